"""Output stage: the documents and files of a run folder, written atomically.

- canonical JSON (``clean_json``, ``dumps``) lives in :mod:`backtests.jsonfmt`, below every stage;
- :mod:`.folder` the run folder itself (destination checks, atomic swap);
- :mod:`.documents` ``metrics.json``, ``manifest.json`` and the data summary;
- :mod:`.write` writing a finished study's files.
"""

from backtests.outputs.folder import CONTRACT_FILES, RUN_FILES, check_destination, write_atomically
from backtests.jsonfmt import clean_json, dumps

__all__ = ["CONTRACT_FILES", "RUN_FILES", "check_destination", "clean_json", "data_fingerprint", "data_summary",
           "dumps", "manifest_document", "metrics_document", "write_atomically", "write_outputs"]


def __getattr__(name: str):
    # The document builders import the results types (pandas, the plan); load them on first use so
    # `import backtests.outputs` stays light.
    if name in ("data_fingerprint", "data_summary", "manifest_document", "metrics_document"):
        from backtests.outputs import documents

        return getattr(documents, name)
    if name == "write_outputs":
        from backtests.outputs.write import write_outputs

        return write_outputs
    raise AttributeError(name)
