"""Starts MLServer in this process, serving ONNX models through `oip_runtime.OnnxModel`.

    serve.py --grpc-port P --http-port Q --model NAME=VERSION=PATH[=KEY:VALUE,...] ...

Every `--model` is one model of the repository (the same file may be served under several
names with different test knobs, e.g. `delay_ms:400` or `corrupt:nan`). The server listens
on 127.0.0.1 only, with one process (no parallel inference workers) and no metrics server.
It lives as long as its standard input is open: when the parent closes it, or dies, the
server exits, so no test run leaves one behind. The caller polls ServerReady and ModelReady
over gRPC to know when it may ask.
"""

import argparse
import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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
    threading.Thread(target=watch_stdin, daemon=True).start()
    asyncio.run(main(parser.parse_args()))
