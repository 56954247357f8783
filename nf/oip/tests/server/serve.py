"""Starts MLServer in this process, serving ONNX models through `oip_runtime.OnnxModel`.

    serve.py --grpc-port P --http-port Q --model NAME=VERSION=PATH[=KEY:VALUE,...] ...
             [--tls-cert CRT --tls-key KEY [--tls-client-ca CA]]

Every `--model` is one model of the repository (the same file may be served under several
names with different test knobs, e.g. `delay_ms:400` or `corrupt:nan`). The server listens
on 127.0.0.1 only, with one process (no parallel inference workers) and no metrics server.
It lives as long as its standard input is open: when the parent closes it, or dies, the
server exits, so no test run leaves one behind. The caller polls ServerReady and ModelReady
over gRPC to know when it may ask.

MLServer 1.7.1 has no TLS setting. With `--tls-cert` and `--tls-key` the gRPC port is made
a secure port with grpcio's own TLS (`grpc.ssl_server_credentials`, BoringSSL) by handing
MLServer a server whose `add_insecure_port` adds a secure one; `--tls-client-ca` requires a
client certificate signed by that CA (mTLS). The REST port stays cleartext on loopback
(the tests use gRPC only).
"""

import argparse
import asyncio
import os
import sys
import threading
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
import mlserver.grpc.server as mlserver_grpc  # noqa: E402
from mlserver import MLServer  # noqa: E402
from mlserver.settings import ModelParameters, ModelSettings, Settings  # noqa: E402

import oip_runtime  # noqa: E402


def _knob(text: str):
    # Values stay strings (float("nan") would turn corrupt:nan into a number).
    key, _, value = text.partition(":")
    return key, value


def model_settings(spec: str) -> ModelSettings:
    name, version, path, *rest = spec.split("=")
    extra = dict(_knob(k) for k in rest[0].split(",")) if rest else {}
    return ModelSettings(
        name=name,
        versions=[version],
        platform="onnxruntime",
        implementation=oip_runtime.OnnxModel,
        parallel_workers=0,
        parameters=ModelParameters(uri=os.path.abspath(path), version=version, extra=extra),
    )


def watch_stdin():
    # EOF on stdin: the parent is gone or done with us.
    sys.stdin.buffer.read()
    os._exit(0)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def secure_grpc(cert, key, client_ca):
    """Makes MLServer's gRPC server listen with TLS (mTLS with `client_ca`)."""
    credentials = grpc.ssl_server_credentials(
        [(_read(key), _read(cert))],
        root_certificates=_read(client_ca) if client_ca else None,
        require_client_auth=client_ca is not None,
    )
    make_server = grpc.aio.server

    def server(*args, **kwargs):
        s = make_server(*args, **kwargs)
        s.add_insecure_port = lambda address: s.add_secure_port(address, credentials)
        return s

    # Only MLServer's module sees the replacement: `aio` there is a name of its own.
    mlserver_grpc.aio = types.SimpleNamespace(server=server)
    mode = "mTLS" if client_ca else "TLS"
    print(f"serve.py: gRPC port with {mode} (grpcio {grpc.__version__})", flush=True)


async def main(args):
    settings = Settings(
        host="127.0.0.1",
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_endpoint=None,
        parallel_workers=0,
        load_models_at_startup=True,
        debug=False,
        grpc_max_message_length=args.max_message_bytes,
    )
    server = MLServer(settings)
    await server.start([model_settings(m) for m in args.model])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--max-message-bytes", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-client-ca")
    args = parser.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.tls_cert:
        secure_grpc(args.tls_cert, args.tls_key, args.tls_client_ca)
    threading.Thread(target=watch_stdin, daemon=True).start()
    asyncio.run(main(args))
