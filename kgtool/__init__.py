"""kgtool: an auditable knowledge graph of critical-minerals geopolitics, built from news sources."""
