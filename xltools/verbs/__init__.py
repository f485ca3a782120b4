"""The verbs: read the files, run the core, write the files. One module per verb."""
