"""The global level: all crystals' PSA results brought together in time (domain notes §3).

Rooms, one algorithm each:

* **time sorter** — :mod:`gpsa.globallevel.sorter` (k-way merge of N timestamp-ordered inputs)
  with :mod:`~gpsa.globallevel.watermark` (per-input progress, idle timeouts, late frames),
  :mod:`~gpsa.globallevel.streamcheck` (out-of-order input, gaps, the 48-bit timestamp wrap),
  :mod:`~gpsa.globallevel.rows` (the table protocol the sorter merges: PsaBlock and others),
  :mod:`~gpsa.globallevel.sortinputs` (ADF files and Redis streams as sorter inputs),
  :mod:`~gpsa.globallevel.sortcounters` (its counters) and :mod:`~gpsa.globallevel.flags`
  (the status bit of late frames);
* **event builder** — coincidences of sorted hits in a window (data:psa → event:data:psa);
* **event merger** — AGATA events with the ancillary detectors (→ event:data);
* **soft trigger** — decides per event on a fast path, so that PSA runs on accepted events only.

The builder, merger and trigger are written in their own modules beside the sorter.
"""
