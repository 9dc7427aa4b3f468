"""Moodle's files: the submissions zip, the offline grading worksheet, feedback zips and grade imports.

Every format follows what Moodle's own code reads and writes (``mod/assign`` downloader,
``assignfeedback_offline``, ``assignfeedback_file``, ``grade/import/csv``), so files this
package writes are accepted by Moodle unchanged.
"""
