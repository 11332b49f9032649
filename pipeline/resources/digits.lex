# Pronunciations of the digit words, from CMUdict (the Carnegie Mellon Pronouncing Dictionary,
# cmudict-0.7b, https://github.com/cmusphinx/cmudict), Copyright (C) 1993-2015 Carnegie Mellon
# University, BSD-style licence (redistribution with this notice permitted).
#
# Format: "<word> <phone> <phone> ...", ARPAbet in lower case with the stress digits removed.
# A word with several pronunciations has several lines, in CMUdict's order; the first is the
# one pipeline.fsdd uses for training targets (zero: "z ih r ow", one: "w ah n").
zero z ih r ow
zero z iy r ow
one w ah n
one hh w ah n
two t uw
three th r iy
four f ao r
five f ay v
six s ih k s
seven s eh v ah n
eight ey t
nine n ay n
