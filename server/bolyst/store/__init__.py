"""The store interface: load the project's files and answer SPARQL."""
