# The two commands of the README. Both set up what they need first (scripts/setup.sh).
.PHONY: all setup build test

all: build

setup:
	bash scripts/setup.sh

# Main job: build the graph from the corpus, check it, export it.
build: setup
	.venv/bin/kgtool build
	.venv/bin/kgtool coverage
	.venv/bin/kgtool reason --inferred dist/inferred.ttl
	.venv/bin/kgtool export --format ntriples --output dist/kgtool.nt
	.venv/bin/kgtool export --format jsonld --output dist/kgtool.jsonld
	.venv/bin/kgtool export --format rdfxml --output dist/kgtool.rdf

# The whole test suite (CI runs this through .ci/run).
test: setup
	.venv/bin/python -m pytest
	.venv/bin/lint-imports
