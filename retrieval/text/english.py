"""Word lists for the English pipeline (kept apart so the analyser reads as logic)."""

# Lucene/Snowball-style English stop words plus contraction pieces left by splitting on "'".
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn did didn do does doesn doing don down
    during each few for from further had hadn has hasn have haven having he her here hers herself
    him himself his how i if in into is isn it its itself just let me more most mustn my myself
    no nor not of off on once only or other ought our ours ourselves out over own same shan she
    should shouldn so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was wasn we were weren what when where which
    while who whom why will with won would wouldn you your yours yourself yourselves s t d ll re
    ve m o y also whose whats""".split()
)

# Irregular forms of common verbs mapped to their lemma before stemming, so that a question
# with "say" finds "said" and "told" finds "tell" (Snowball leaves these forms unrelated).
_IRREGULAR_TABLE = """
arise arose arisen; awake awoke awoken; be was were been; bear bore born borne; beat beat beaten;
become became become; begin began begun; bend bent; bet bet; bid bid; bind bound; bite bit bitten;
bleed bled; blow blew blown; break broke broken; breed bred; bring brought; build built;
burn burnt; buy bought; catch caught; choose chose chosen; come came; cost cost; creep crept;
cut cut; deal dealt; dig dug; do did done; draw drew drawn; dream dreamt; drink drank drunk;
drive drove driven; eat ate eaten; fall fell fallen; feed fed; feel felt; fight fought;
find found; flee fled; fly flew flown; forbid forbade forbidden; forget forgot forgotten;
forgive forgave forgiven; freeze froze frozen; get got gotten; give gave given; go went gone;
grow grew grown; hang hung; have had has; hear heard; hide hid hidden; hit hit; hold held;
hurt hurt; keep kept; know knew known; lay laid; lead led; lean leant; leave left; lend lent;
let let; lie lay lain; light lit; lose lost; make made; mean meant; meet met; pay paid;
prove proven; put put; quit quit; read read; ride rode ridden; ring rang rung; rise rose risen;
run ran; say said says; see saw seen; seek sought; sell sold; send sent; set set; shake shook shaken;
shine shone; shoot shot; show shown; shut shut; sing sang sung; sink sank sunk; sit sat;
sleep slept; slide slid; speak spoke spoken; spend spent; spin spun; split split; spread spread;
stand stood; steal stole stolen; stick stuck; sting stung; strike struck stricken; swear swore sworn;
sweep swept; swim swam swum; swing swung; take took taken; teach taught; tear tore torn;
tell told; think thought; throw threw thrown; understand understood; wake woke woken;
wear wore worn; weave wove woven; win won; write wrote written; withdraw withdrew withdrawn;
undertake undertook undertaken; overcome overcame; outrun outran; uphold upheld
"""

IRREGULAR: dict[str, str] = {}
for _group in _IRREGULAR_TABLE.split(";"):
    _lemma, *_forms = _group.split()
    for _form in _forms:
        # Forms that are also common nouns or other words keep their own meaning.
        if _form not in {
            "left",
            "found",
            "lay",
            "lie",
            "saw",
            "bore",
            "fell",
            "rose",
            "bit",
            "ground",
            "lead",
            "light",
            "lit",
            "read",
            "won",
            "set",
            "put",
            "let",
            "cut",
            "hit",
            "hurt",
            "cost",
            "bet",
            "bid",
            "quit",
            "split",
            "spread",
            "shut",
            "was",
            "were",
            "been",
            "did",
            "done",
            "has",
            "had",
            "got",
        }:
            IRREGULAR.setdefault(_form, _lemma)
