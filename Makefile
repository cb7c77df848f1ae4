# Convenience aliases for the two README commands.
.PHONY: run test setup bench
run:
	bash scripts/app.sh
test:
	bash scripts/test.sh
setup:
	bash scripts/setup.sh dev
