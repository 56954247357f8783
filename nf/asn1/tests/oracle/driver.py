#!/usr/bin/env python3
"""Batch driver of the interop kit's independent ASN.1 oracle, for `tests/oracle.rs`.

Imports asn1-oracle.py (path in argv[1]) for its module list and pycrate loader, then answers
one JSON request per stdin line with one JSON reply per stdout line, compiling each spec once:

  {"op": "decode", "spec": S, "type": T, "hex": H}   -> {"ok": true, "jer": V, "hex": H2}
  {"op": "encode", "spec": S, "type": T, "jer": V}   -> {"ok": true, "hex": H}

`decode` also re-encodes the decoded value (`hex`), so a caller sees both the value and the
oracle's own bytes for it. Failures answer {"ok": false, "error": "..."}.
"""
import importlib.util
import json
import os
import sys


def load_oracle(path):
    spec = importlib.util.spec_from_file_location("asn1_oracle", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Codecs:
    def __init__(self, oracle):
        self.oracle = oracle
        self.e2sm = {}
        self.e2ap = {}

    def asn1tools(self, spec):
        if spec not in self.e2sm:
            import asn1tools
            files = [os.path.join(self.oracle.HERE, f) for f in self.oracle.SPECS[spec]]
            self.e2sm[spec] = (asn1tools.compile_files(files, "per"),
                               asn1tools.compile_files(files, "jer"))
        return self.e2sm[spec]

    def pycrate(self, spec, name):
        key = (spec, name)
        if key not in self.e2ap:
            self.e2ap[key] = self.oracle.find_type(self.oracle.load(spec), name)
        return self.e2ap[key]

    def answer(self, req):
        spec, name, op = req["spec"], req["type"], req["op"]
        if spec.startswith("e2sm-"):
            per, jer = self.asn1tools(spec)
            if op == "decode":
                val = per.decode(name, bytes.fromhex(req["hex"]))
                return {"ok": True, "jer": json.loads(jer.encode(name, val)),
                        "hex": per.encode(name, val).hex()}
            val = jer.decode(name, json.dumps(req["jer"]).encode())
            return {"ok": True, "hex": per.encode(name, val).hex()}
        t = self.pycrate(spec, name)
        if op == "decode":
            t.from_aper(bytes.fromhex(req["hex"]))
            return {"ok": True, "jer": json.loads(t.to_jer()), "hex": t.to_aper().hex()}
        t.from_jer(json.dumps(req["jer"]))
        return {"ok": True, "hex": t.to_aper().hex()}


def main():
    codecs = Codecs(load_oracle(sys.argv[1]))
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = codecs.answer(json.loads(line))
        except BaseException as e:  # noqa: BLE001 - every failure becomes a reply
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
