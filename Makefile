# The two commands of the README, plus the benchmark. Each target first makes sure
# onnxruntime is in place (scripts/fetch-onnxruntime.sh, pinned and idempotent).
.PHONY: demo demo-interference test bench lint onnxruntime image

onnxruntime:
	@scripts/fetch-onnxruntime.sh

## Run the main job: the slice-scheduling xApp closing the loop against the built-in E2T
## simulator replaying the bundled TRACTOR slice.
demo: onnxruntime
	@scripts/demo.sh

## The interference xApp against the simulator's radio mode (needs ../shared/traces/ucc5g).
demo-interference: onnxruntime
	@scripts/demo-interference.sh

## Run the test suite.
test: onnxruntime
	cargo test --workspace --locked

## Container images of the three binaries (podman; see docs/operations.md, "The container image").
image: onnxruntime
	scripts/build-image.sh --app all --profile release $(IMAGE_ARGS)

## Latency / throughput benchmark (see docs/performance.md).
bench: onnxruntime
	cargo build --release --locked -p slice-xapp -p testbed
	./target/release/loadbench $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
