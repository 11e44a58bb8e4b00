# The two commands of the README. Both set up what they need first (scripts/setup.sh).
.PHONY: all setup build test

all: build

setup:
	bash scripts/setup.sh

# Main job: build the graph from the corpus, check it (coverage, lint, reasoner, SHACL), export it.
build: setup
	.venv/bin/kgtool build
	.venv/bin/kgtool check
	.venv/bin/kgtool reason --inferred dist/inferred.ttl
	.venv/bin/kgtool validate --format junit --output dist/shacl-report.xml
	.venv/bin/kgtool export --format ntriples --output dist/kgtool.nt
	.venv/bin/kgtool export --format nquads --output dist/kgtool.nq
	.venv/bin/kgtool export --format jsonld --output dist/kgtool.jsonld
	.venv/bin/kgtool export --format rdfxml --output dist/kgtool.rdf

# The whole test suite (CI runs this through .ci/run), then the architecture and type checks.
test: setup
	.venv/bin/python -m pytest
	.venv/bin/lint-imports
	.venv/bin/mypy
