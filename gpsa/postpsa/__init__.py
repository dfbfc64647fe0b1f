"""Corrections after PSA: time-evolution gain drift (:mod:`.gaindrift`) and energy
recalibration (:mod:`.recalibrate`); the crystal → lab transform comes from
:mod:`gpsa.detector.transforms`. The ``post-psa`` filter (:mod:`gpsa.actors.postpsa`) chains
them."""
