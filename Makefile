# Lambda builds for `sam build --build-in-source` (BuildMethod: makefile).
# Every target runs the same single cargo-lambda build of all eight functions,
# so the workspace is compiled once; later targets find it up to date.
ARCH ?= arm64
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LAMBDA_PACKAGES := -p router -p validator -p executor -p manual-assign -p timeout-sweeper -p api -p publisher -p notifier

.PHONY: lambdas
lambdas:
	cargo lambda build --release --$(ARCH) $(LAMBDA_PACKAGES)

define function
.PHONY: build-$(1)
build-$(1): lambdas
	cp $$(TARGET_DIR)/lambda/$(2)/bootstrap $$(ARTIFACTS_DIR)/bootstrap
endef

$(eval $(call function,RouterFunction,router))
$(eval $(call function,ValidatorFunction,validator))
$(eval $(call function,ExecutorFunction,executor))
$(eval $(call function,ManualAssignFunction,manual-assign))
$(eval $(call function,SweeperFunction,timeout-sweeper))
$(eval $(call function,ApiFunction,api))
$(eval $(call function,PublisherFunction,publisher))
$(eval $(call function,NotifierFunction,notifier))
