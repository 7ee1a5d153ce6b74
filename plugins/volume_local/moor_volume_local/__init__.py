"""moor's ``local`` volume driver: a directory per volume under the data root."""
