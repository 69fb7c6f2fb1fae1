"""The ``floodwall`` command line: an edge that parses arguments and prints results."""
