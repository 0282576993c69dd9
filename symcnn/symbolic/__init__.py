"""The symbolic layer: derivations that check themselves (:mod:`.derivation`), the pixel-space
gradient flow (:mod:`.pixel`), its Fourier reductions (:mod:`.reductions`) and their closed
forms (:mod:`.closed_forms`). Everything here is SymPy; the numeric core never imports it."""
