"""Time: market session calendars and UTC bar stamps (:mod:`.calendars`), shock events and the
windows counted in their defining market's sessions (:mod:`.windows`)."""
