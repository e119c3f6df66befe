"""Graph stores: the embedded SQLite+networkx store and the Neo4j writer, both driven by the schema."""
