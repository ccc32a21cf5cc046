# Developer commands. `make help` lists them.
.PHONY: help test check slt slt-complete bless sample s3-up s3-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: ## every test, with a local S3 server (what CI runs)
	scripts/test

check: ## format check, lints and tests without S3
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

slt: ## the sqllogictest suite only (FILTER=name to pick files)
	KNIT_SLT_FILTER=$(FILTER) cargo test -p knit-core --test it sqllogictests

slt-complete: ## rewrite expected .slt output from what Knit returns (review the diff)
	KNIT_SLT_COMPLETE=1 KNIT_SLT_FILTER=$(FILTER) cargo test -p knit-core --test it sqllogictests

bless: ## rewrite sql/examples/expected/*.out from the examples' output
	KNIT_BLESS=1 cargo test -p knit-cli --test it examples

sample: ## regenerate testdata/ecommerce from its seed
	cargo run -p knit-benches --bin gen_sample -- testdata/ecommerce

s3-up: ## start the local S3 server; then: source $$(scripts/s3-server start)
	scripts/s3-server start

s3-down: ## stop the local S3 server
	scripts/s3-server stop
