"""Landing files -> bronze tables: find, read, type, conform, stage, commit; quarantine what cannot be read.

landing.py     which files wait in landing/ and the table each lands in
text.py        bytes as text (encodings, what is not text)
csv_dialect.py csv_reader.py numbers.py   CSV: dialect and title rows; typing in the table's number format
json_reader.py json_shapes.py             JSON: the shapes that land; records whose values change type
reader.py      one file, whatever its format -> a Read (frames.py)
schema.py      a table's columns as files arrive: supertypes, announced schema changes
batch.py       the rows of one commit: aligned, typed, with lineage, staged
ingestor.py    the run's ingest step: one commit per table; quarantine.py for what cannot be read
"""

from rat_tui.engine.ingest.batch import LINEAGE
from rat_tui.engine.ingest.frames import Read
from rat_tui.engine.ingest.ingestor import Ingestor, IngestResult
from rat_tui.engine.ingest.landing import LandingFile, file_digest, is_pending_name, scan_landing, table_name_for
from rat_tui.engine.ingest.reader import STREAM_BYTES, read_file
from rat_tui.engine.ingest.schema import SchemaChange
from rat_tui.engine.ingest.text import UnreadableFile

__all__ = [
    "LINEAGE",
    "STREAM_BYTES",
    "IngestResult",
    "Ingestor",
    "LandingFile",
    "Read",
    "SchemaChange",
    "UnreadableFile",
    "file_digest",
    "is_pending_name",
    "read_file",
    "scan_landing",
    "table_name_for",
]
