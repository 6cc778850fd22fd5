"""Barthel Index, 100-point version (Barthel指数).

Source: Mahoney FI, Barthel DW. Functional evaluation: the Barthel Index.
Md State Med J 1965;14:61-65; items in the order of the Chinese national
form.  Level wording after Collin C, Wade DT, Davies S, Horne V. The Barthel
ADL Index: a reliability study. Int Disabil Stud 1988;10:61-63, which Chinese
forms follow.  Each item has its own level labels: a shared "Dependent" on the
two-level bathing item, whose 0 means *any* help from another person, made
patients who need a little help answer 5.  Bands (≤40 severe, 41-60 moderate, 61-99 mild dependence, 100
independent) are those used in China.  LOINC total 96761-2; item codes as
listed in INSTRUMENTS.md.

Patients read each item as a plain question in their own voice (``ask``:
"you", 您) and a caregiver answering for the patient reads it about the
patient (``proxy``: "he or she", 他/她); clinicians see the short item names
(``text``: 修饰, 床椅转移).  Jargon is explained on the patient's screen:
grooming is personal hygiene (washing the face, combing the hair, brushing
the teeth, shaving; 个人卫生), transfers are moving from bed to chair and back
(从床上移到椅子上再回到床上).

Only the original levels are valid.  12 (a level of Shah's *Modified* Barthel
Index) or any other in-between value is an error, never rounded.  The
20-point Collin & Wade version is this total divided by 5.
"""

from epro.core.i18n_marker import N_

from .base import Band, Choice, Instrument, Item

_INDEPENDENT = N_("Independent")
_UNABLE = N_("Unable")

INSTRUMENT = Instrument(
    code="bi",
    name=N_("Barthel Index"),
    short_name="BI",
    reporter="patient",
    task_hint=N_("Daily activities — 10 questions"),
    instructions=N_(
        "For each activity, choose what you actually do now, not what you might be able "
        "to do. Using aids such as a walking stick still counts as doing it alone."
    ),
    proxy_instructions=N_(
        "For each activity, choose what the patient actually does now, not what he or she "
        "might be able to do. Using aids such as a walking stick still counts as doing it alone."
    ),
    items=(
        Item(
            "feeding",
            N_("Feeding"),
            (
                Choice(0, N_("Unable; has to be fed")),
                Choice(5, N_("Needs help, e.g. cutting up food, or needs a special diet")),
                Choice(10, N_("Independent; eats without help")),
            ),
            ask=N_("Eating: how do you manage your meals?"),
            proxy=N_("Eating: how does he or she manage his or her meals?"),
            loinc="83184-2",
        ),
        Item(
            "bathing",
            N_("Bathing"),
            (
                Choice(0, N_("Needs someone's help to bathe or shower, even a little")),
                Choice(5, N_("Bathes or showers alone, with no one there to help")),
            ),
            ask=N_("Bathing: how do you wash yourself in the bath or shower?"),
            proxy=N_("Bathing: how does he or she wash in the bath or shower?"),
            loinc="83181-8",
        ),
        Item(
            "grooming",
            N_("Grooming"),
            (
                Choice(0, N_("Needs help with personal care")),
                Choice(5, N_("Independent; washes face, combs hair, brushes teeth, shaves")),
            ),
            ask=N_(
                "Personal hygiene (washing your face, combing your hair, brushing your teeth, shaving): "
                "can you do it yourself?"
            ),
            proxy=N_(
                "Personal hygiene (washing the face, combing the hair, brushing the teeth, shaving): "
                "can he or she do it alone?"
            ),
            loinc="96767-9",
        ),
        Item(
            "dressing",
            N_("Dressing"),
            (
                Choice(0, N_("Needs a lot of help to dress, or is dressed by someone else")),
                Choice(5, N_("Needs help but can do about half alone")),
                Choice(10, N_("Independent, including buttons, zips and shoes")),
            ),
            ask=N_("Getting dressed: how do you put on and take off your clothes?"),
            proxy=N_("Getting dressed: how does he or she put on and take off his or her clothes?"),
            loinc="83182-6",
        ),
        Item(
            "bowels",
            N_("Bowel control"),
            (
                Choice(0, N_("Incontinent, or needs to be given enemas")),
                Choice(5, N_("Occasional accident (about once a week)")),
                Choice(10, N_("Continent; no accidents")),
            ),
            ask=N_("Bowel control: can you hold your stools until you reach the toilet?"),
            proxy=N_("Bowel control: can he or she hold his or her stools until reaching the toilet?"),
            loinc="96759-6",
        ),
        Item(
            "bladder",
            N_("Bladder control"),
            (
                Choice(0, N_("Incontinent, or has a catheter and cannot manage it alone")),
                Choice(5, N_("Occasional accident (at most once a day)")),
                Choice(10, N_("Continent; no accidents")),
            ),
            ask=N_("Bladder control: can you hold your urine until you reach the toilet?"),
            proxy=N_("Bladder control: can he or she hold his or her urine until reaching the toilet?"),
            loinc="96760-4",
        ),
        Item(
            "toilet_use",
            N_("Toilet use"),
            (
                Choice(0, N_("Needs a lot of help on the toilet, or cannot use it without someone")),
                Choice(5, N_("Needs some help, but can do some things alone")),
                Choice(10, N_("Independent; gets on and off, dresses and wipes alone")),
            ),
            ask=N_("Using the toilet: how do you manage on the toilet?"),
            proxy=N_("Using the toilet: how does he or she manage on the toilet?"),
            loinc="83183-4",
        ),
        Item(
            "transfers",
            N_("Moving from bed to chair and back"),
            (
                Choice(0, N_("Unable; cannot sit up without support")),
                Choice(5, N_("Needs major help (one or two people), can sit")),
                Choice(10, N_("Needs minor help (a little help or reminders)")),
                Choice(15, _INDEPENDENT),
            ),
            ask=N_("Moving from your bed to a chair and back to bed: how do you manage?"),
            proxy=N_("Moving from the bed to a chair and back to bed: how does he or she manage?"),
            loinc="83185-9",
        ),
        Item(
            "mobility",
            N_("Walking on level ground (about 45 metres)"),
            (
                Choice(0, N_("Cannot get about, or less than 45 metres")),
                Choice(5, N_("Cannot walk, but wheels about 45 metres alone, turning corners too")),
                Choice(10, N_("Walks with the help of one person")),
                Choice(15, N_("Independent; may use an aid such as a stick")),
            ),
            ask=N_("Walking on level ground (about 45 metres): how do you get about?"),
            proxy=N_("Walking on level ground (about 45 metres): how does he or she get about?"),
            loinc="83186-7",
        ),
        Item(
            "stairs",
            N_("Going up and down stairs"),
            (
                Choice(0, _UNABLE),
                Choice(5, N_("Needs help or supervision")),
                Choice(10, _INDEPENDENT),
            ),
            ask=N_("Going up and down stairs: how do you manage stairs?"),
            proxy=N_("Going up and down stairs: how does he or she manage stairs?"),
            loinc="96758-8",
        ),
    ),
    min_total=0,
    max_total=100,
    higher_is_better=True,
    loinc="96761-2",
    source=(
        "Mahoney FI, Barthel DW. Functional evaluation: the Barthel Index. "
        "Md State Med J 1965;14:61-65. Level wording: Collin C, Wade DT, Davies S, Horne V. "
        "The Barthel ADL Index: a reliability study. Int Disabil Stud 1988;10:61-63. "
        "Item order of the Chinese national form."
    ),
    bands=(
        Band("severe", N_("Severe dependence"), 0, 40),
        Band("moderate", N_("Moderate dependence"), 41, 60),
        Band("mild", N_("Mild dependence"), 61, 99),
        Band("independent", _INDEPENDENT, 100, 100),
    ),
)
