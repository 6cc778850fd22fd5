"""Worklists for the site team: the call list (:mod:`.calls`), the completion report
(:mod:`.completion`) and the clinician alerts (:mod:`.alerts`)."""
