# The two commands of the README. Both set up what they need first (scripts/setup.sh).
.PHONY: all setup build images test

all: build

setup:
	bash scripts/setup.sh

# Main job: build the graph from the corpus, check it (coverage, lint, reasoner, SHACL), export it,
# document the ontology (dist/docs/) and draw the README's pictures (images, drawn first).
build: setup images
	.venv/bin/kgtool build
	.venv/bin/kgtool check
	.venv/bin/kgtool reason --inferred dist/inferred.ttl
	.venv/bin/kgtool validate --format junit --output dist/shacl-report.xml
	.venv/bin/kgtool export --format ntriples --output dist/kgtool.nt
	.venv/bin/kgtool export --format nquads --output dist/kgtool.nq
	.venv/bin/kgtool export --format jsonld --output dist/kgtool.jsonld
	.venv/bin/kgtool export --format rdfxml --output dist/kgtool.rdf
	.venv/bin/kgtool docs --output dist/docs

# The README's pictures, from the shipped graph (byte-stable: commit them when they change).
images: setup
	.venv/bin/kgtool graph --output docs/images/control-network.svg
	.venv/bin/kgtool graph --output docs/images/control-network.png
	.venv/bin/kgtool chart --subject kgr:russia --measure kgv:reserves --output docs/images/reserves-russia.svg
	.venv/bin/kgtool chart --subject kgr:russia --measure kgv:reserves --output docs/images/reserves-russia.png

# The whole test suite (CI runs this through .ci/run), then the architecture and type checks.
test: setup
	.venv/bin/python -m pytest
	.venv/bin/lint-imports
	.venv/bin/mypy

# The README's picture of `kgtool serve`'s workbench (docs/images/workbench.png), from the shipped graph
# in headless chromium. Not part of `images`: a screenshot shows timings, so it is not byte-stable.
.PHONY: workbench-screenshot
workbench-screenshot: setup
	.venv/bin/python scripts/workbench_screenshot.py
