"""The studio: a page at ``/`` for people (record or upload a voice, type, listen while it
streams, long texts as jobs, a voice library). Server-rendered, with one small hand-written
ES module; the browser calls only the public HTTP API, exactly as any client would."""
