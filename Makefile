# Shorthands for the two scripts the README names.
.PHONY: run test
run:
	scripts/demo.sh
test:
	scripts/test.sh
