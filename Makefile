# The two commands of the README, plus the benchmark. Each target first makes sure
# onnxruntime is in place (scripts/fetch-onnxruntime.sh, pinned and idempotent).
.PHONY: demo test bench lint onnxruntime

onnxruntime:
	@scripts/fetch-onnxruntime.sh

## Run the main job: the slice-scheduling xApp closing the loop against the built-in E2T
## simulator replaying the bundled TRACTOR slice.
demo: onnxruntime
	@scripts/demo.sh

## Run the test suite.
test: onnxruntime
	cargo test --workspace --locked

## Latency / throughput benchmark (see docs/performance.md).
bench: onnxruntime
	cargo build --release --locked -p slice-xapp -p testbed
	./target/release/loadbench $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
