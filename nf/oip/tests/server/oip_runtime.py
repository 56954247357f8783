"""An MLServer runtime that serves one ONNX model through onnxruntime.

The model's metadata (input and output names, FP32 datatypes, shapes with -1 for symbolic
dimensions) is read from the ONNX session itself, so what the Open Inference Protocol client
checks against its contract is what the file really is, not a hand-written copy.

Test knobs, from the model's `parameters.extra` (absent in a well-behaved model):
  delay_ms   sleep this long before answering (a slow or far-away server);
  corrupt    "nan": the first output value becomes NaN; "drop_row": the last row is cut
             from the output (its shape says so).
"""

import asyncio

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, ResponseOutput

# onnxruntime's element type names -> Open Inference Protocol datatypes.
_DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64"}


def _metadata(arg) -> MetadataTensor:
    shape = [d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape]
    return MetadataTensor(name=arg.name, datatype=_DATATYPES.get(arg.type, arg.type), shape=shape)


class OnnxModel(MLModel):
    async def load(self) -> bool:
        params = self.settings.parameters
        opts = ort.SessionOptions()
        # The same session settings as the xApp's worker (nf_infer::runtime::load_model), so
        # local and remote outputs of the same rows can be compared value for value.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(params.uri, opts, providers=["CPUExecutionProvider"])
        self.inputs = [_metadata(i) for i in self._session.get_inputs()]
        self.outputs = [_metadata(o) for o in self._session.get_outputs()]
        extra = params.extra or {}
        self._delay = float(extra.get("delay_ms", 0)) / 1000.0
        self._corrupt = extra.get("corrupt")
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        expected = self._session.get_inputs()[0]
        if len(payload.inputs) != 1 or payload.inputs[0].name != expected.name:
            names = [i.name for i in payload.inputs]
            raise MLServerError(f"expected one input named {expected.name!r}, got {names}", status_code=400)
        tensor = payload.inputs[0]
        if tensor.datatype != "FP32":
            raise MLServerError(f"input {tensor.name!r} must be FP32, got {tensor.datatype}", status_code=400)
        rows = NumpyCodec.decode_input(tensor).astype(np.float32, copy=False)
        if self._delay > 0:
            await asyncio.sleep(self._delay)
        wanted = [o.name for o in payload.outputs] if payload.outputs else None
        names = wanted or [o.name for o in self._session.get_outputs()]
        values = self._session.run(names, {expected.name: rows})
        outputs = [self._output(name, v) for name, v in zip(names, values)]
        return InferenceResponse(model_name=self.name, model_version=self.version, outputs=outputs)

    def _output(self, name: str, value: np.ndarray) -> ResponseOutput:
        value = np.ascontiguousarray(value, dtype=np.float32)
        if self._corrupt == "nan":
            value = value.copy()
            value.flat[0] = np.nan
        elif self._corrupt == "drop_row":
            value = value[:-1]
        # Built by hand rather than by MLServer's NumpyCodec, which turns NaN into None.
        return ResponseOutput(name=name, datatype="FP32", shape=list(value.shape), data=value.ravel().tolist())
