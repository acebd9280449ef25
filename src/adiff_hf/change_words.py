"""The words that name a difference between two clips: one vocabulary for whatever reads a text for them.

The claim check (`adiff_hf.evidence.claims`) reads `PROPERTY_WORDS`, `UNMEASURED_WORDS` and `SAME_WORDS`; the
attribute scorer (`adiff_hf.evaluation.attributes`) reads `CHANGE_WORDS` (the same words, keyed by the controlled
changes of `adiff_hf.data.changes`) and `SAME_WORDS`. Each entry is a regular expression over lower-cased text.
"""

# the properties a measurement decides, by direction (+1: the clip named has more of it)
PROPERTY_WORDS = {
    "loudness": {
        1: r"\blouder|\bboosted|\bamplified|\bmore intense|\bhigher (volume|level)|\bgreater volume",
        -1: r"\bquieter|\bsofter|\battenuated|\bfainter|\blower (volume|level)|\breduced volume",
    },
    "speed": {
        1: r"\bfaster|\bquicker|\bsped[- ]up|\brushed|\bhurried|\bchipmunk",
        -1: r"\bslower|\bslowed|\bdrawn[- ]out|\bsluggish",
    },
    "duration": {1: r"\blonger\b", -1: r"\bshorter\b"},
    "pitch": {
        1: r"\bhigher[- ]pitched|\bhigher in pitch|\bhigher pitch|\bpitched up|\braised pitch",
        -1: r"\blower[- ]pitched|\blower in pitch|\blower pitch|\bpitched down|\blowered pitch|\bdeeper",
    },
    "treble": {
        1: r"\bbrighter|\bcrisper|\bmore treble",
        -1: r"\bmuffled|\bdull|\bdarker\b|\blow-?pass|\bless treble|\bthrough a wall|\bhigh frequencies are "
        r"(filtered|cut|removed)",
    },
    "bass": {
        1: r"\bfuller|\bbassier|\bboomy|\bwarmer|\bmore bass",
        -1: r"\bthin(ner)?\b|\btinny|\bhigh-?pass|\bless bass|\blow frequencies are (filtered|cut|removed)",
    },
    "noise": {1: r"\bnois(y|ier|e)\b|\bhiss|\bstatic\b", -1: r"\bcleaner|\bless nois"},
    "reverb": {
        1: r"\breverb|\bechoey|\bhall\b|\blarge room|\bspacious|\bcavernous",
        -1: r"\bdrier\b|\bdry\b|\bless reverb",
    },
    "echo": {1: r"\becho(es|ing)?\b|\bdelay|\brepeats"},
    "distortion": {1: r"\bdistort|\boverdriven|\bsaturat|\bgritty"},
    "compression": {
        1: r"\bcompressed|\bsquashed|\b(dynamics|dynamic range) (is |are )?(squeezed|reduced|narrower)",
        -1: r"\bmore dynamic\b|\bwider dynamic|\bmore punch",
    },
    "bitcrush": {1: r"\bgrainy|\blo-?fi|\bbit-?crush|\bcrushed|\bquantis|\bquantiz"},
    "codec": {1: r"\bcodec|\b(tele)?phone\b|\bmp3|\bgsm|\blossy"},
    "clipping": {1: r"\bclipped|\bclipping|\boverloaded|\bpeaks (are )?(cut|flattened)"},
    "gap": {1: r"\binterrupt|\bgaps?\b|\bsilences?\b|\bdrops? out|\bcuts? out|\bstops briefly"},
    "reverse": {1: r"\brevers|\bbackwards"},
    "speech": {1: r"\bspeech|\bspeak(s|ing|er)?\b|\bvoices?\b|\btalk(s|ing)?\b|\bspoken|\bsaying\b"},
}
# changes no measurement decides (every change the data builder makes has a measure now)
UNMEASURED_WORDS: dict[str, str] = {}
# the two clips sound the same
SAME_WORDS = (
    r"\bno (audible )?difference|\b(sounds?|are) (exactly )?(the )?same\b|\bidentical\b|"
    r"\b(cannot|can't|couldn't|not)( be able to)? tell"
)
# each controlled change: its words, or its words by direction (True: up, as `data.changes.describe_change` reads it)
CHANGE_WORDS = {
    "gain": {True: PROPERTY_WORDS["loudness"][1], False: PROPERTY_WORDS["loudness"][-1]},
    # a resampling: faster and higher together
    "speed": {
        True: r"faster.{0,40}higher|higher.{0,40}faster|sped up.{0,40}higher",
        False: r"slower.{0,40}lower|lower.{0,40}slower|slowed down.{0,40}lower",
    },
    "tempo": {True: PROPERTY_WORDS["speed"][1], False: PROPERTY_WORDS["speed"][-1]},
    "pitch": {True: PROPERTY_WORDS["pitch"][1], False: PROPERTY_WORDS["pitch"][-1]},
    "reverb": PROPERTY_WORDS["reverb"][1],
    "echo": PROPERTY_WORDS["echo"][1],
    "lowpass": PROPERTY_WORDS["treble"][-1],
    "highpass": PROPERTY_WORDS["bass"][-1],
    "noise": PROPERTY_WORDS["noise"][1],
    "distortion": PROPERTY_WORDS["distortion"][1],
    "clipping": PROPERTY_WORDS["clipping"][1],
    "bitcrush": PROPERTY_WORDS["bitcrush"][1],
    "compression": PROPERTY_WORDS["compression"][1],
    "codec": PROPERTY_WORDS["codec"][1],
    "reverse": PROPERTY_WORDS["reverse"][1],
    "gap": PROPERTY_WORDS["gap"][1],
}

__all__ = ["CHANGE_WORDS", "PROPERTY_WORDS", "SAME_WORDS", "UNMEASURED_WORDS"]
