import pytest

from bot.tutor.grading import (
    Match,
    Unreadable,
    check,
    matches,
    normalize_answer,
    parse_choice,
    parse_number,
    parse_shape,
)


@pytest.mark.parametrize(
    "text",
    ["(None, 5)", "None,5", "[None, 5]", "(none,5)", " ( None , 5 ) ", "(None, 5,)", "NONE, 5"],
)
def test_shape_spellings_are_equal(text):
    assert parse_shape(text) == (None, 5)
    assert normalize_answer(text) == "(None, 5)"


@pytest.mark.parametrize(
    ("text", "shape"),
    [("(None, 4, 4, 1280)", (None, 4, 4, 1280)), ("(3,)", (3,)), ("[2]", (2,)), ("()", ())],
)
def test_other_shapes(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["5", "none", "hello", "(None, five)", "", "1, 2 3"])
def test_not_shapes(text):
    assert parse_shape(text) is None


def test_shape_answers_do_not_match_other_shapes():
    assert matches("None, 5", ["(None, 5)"])
    assert not matches("(5, None)", ["(None, 5)"])
    assert not matches("(None, 5, 1)", ["(None, 5)"])


def test_text_answers_ignore_case_space_quotes_and_final_punctuation():
    assert matches("  global   Average pooling. ", ["Global average pooling"])
    assert matches("`GlobalAveragePooling2D`", ["GlobalAveragePooling2D"])
    assert not matches("global max pooling", ["global average pooling"])


def test_choice_numbers():
    assert parse_choice("2", 4) == 1
    assert parse_choice(" 4. ", 4) == 3
    assert parse_choice("two", 4) is None
    with pytest.raises(ValueError, match="1 to 4"):
        parse_choice("5", 4)
    with pytest.raises(ValueError, match="1 to 4"):
        parse_choice("0", 4)


# Digits as people may type them: str.isdigit() is True for all of these, int() is not.
@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2", 2),
        (" 12 ", 12),
        ("²", 2),  # superscript
        ("₃", 3),  # subscript
        ("①", 1),  # circled
        ("３", 3),  # full width
        ("٣", 3),  # Arabic-Indic
        ("߂", 2),  # NKo
        ("𝟐", 2),  # mathematical bold
        ("²³", 23),
        ("½", None),  # a fraction is not a whole number
        ("Ⅻ", None),  # a Roman numeral reads as letters
        ("⑳", 20),
        ("𐩀", None),  # Kharosthi one: a digit, but not a decimal int() reads
        ("2.5", None),
        ("-1", None),
        ("9" * 10, None),  # longer than any count typed here
        ("", None),
    ],
)
def test_numbers_people_type(text, number):
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["²", "₂", "②", "２", "٢", "𝟐", "2.", "2)"])
def test_a_choice_typed_in_any_digits(text):
    assert parse_choice(text, 3) == 1


@pytest.mark.parametrize("text", ["⁵", "⑳", "٩", "0", "9" * 50])
def test_choices_out_of_range_are_refused_clearly(text):
    with pytest.raises(ValueError, match=r"^Choose a number from 1 to 3\.$"):
        parse_choice(text, 3)


@pytest.mark.parametrize("text", ["½", "Ⅱ", "𐩀", "two"])
def test_choices_that_are_not_numbers(text):
    assert parse_choice(text, 3) is None


def test_shapes_in_other_digits():
    assert normalize_answer("(None, ⁵)") == normalize_answer("（None，５）") == "(None, 5)"
    assert matches("[None, ٥]", ["(None, 5)"])


# --- forgiving notation, precise feedback (issue 16): the rules' table of examples --------------

BATCHED = ["(None, 14, 14, 512)"]  # a question that asks for the batch dimension
UNBATCHED = ["(14, 14, 512)"]  # one example's shape, no batch dimension


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("(None, 14, 14, 512)", BATCHED),
        ("None, 14, 14, 512", BATCHED),
        ("[None, 14, 14, 512]", BATCHED),
        ("{None, 14, 14, 512}", BATCHED),
        ("<None, 14, 14, 512>", BATCHED),
        ("(None,14,14,512,)", BATCHED),
        ("None x 14 x 14 x 512", BATCHED),
        ("None×14×14×512", BATCHED),
        ("none*14*14*512", BATCHED),
        ("(? , 14, 14, 512)", BATCHED),
        ("null, 14, 14, 512", BATCHED),
        ("None 14 14 512", BATCHED),
        ("（None，14，14，512）", BATCHED),  # full-width brackets and commas
        ("14x14x512", UNBATCHED),
        ("14 × 14 × 512", UNBATCHED),
        ("[14 14 512]", UNBATCHED),
        ("(14, 14, 512)", UNBATCHED),
        ("None×5", ["(None, 5)"]),
        ("(None, ٥)", ["(None, 5)"]),  # Arabic-Indic five
    ],
)
def test_equivalent_shape_notations_are_accepted(answer, accepted):
    assert check(answer, accepted) == Match(True)


@pytest.mark.parametrize(
    ("answer", "accepted", "note"),
    [
        ("14x14x512", BATCHED, "batch dimension, None"),  # missing batch
        ("(14, 14, 512)", BATCHED, "batch dimension, None"),
        ("(None, 14, 14, 512)", UNBATCHED, "one dimension too many"),  # extra batch
        ("(32, 14, 14, 512)", BATCHED, "is None (any batch size)"),  # a batch size
        ("(None, 512, 14, 14)", BATCHED, "channels-first"),
        ("512x14x14", UNBATCHED, "channels-first"),
        ("(None, 14, 512, 14)", BATCHED, "wrong order"),  # swapped axes
        ("(None, 1280, 5)", ["(None, 5, 1280)"], "wrong order"),
    ],
)
def test_almost_right_shapes_are_wrong_with_a_note_saying_why(answer, accepted, note):
    result = check(answer, accepted)
    assert result.correct is False
    assert result.note is not None and note in result.note
    assert result.note.startswith("Almost")


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ("(None, 7, 7, 512)", BATCHED),  # a different size: plainly wrong
        ("(None, 14, 14)", BATCHED),
        ("global average pooling", BATCHED),
        ("(None, 5)", ["(None, 1280)"]),
    ],
)
def test_shapes_that_are_not_close_get_no_note(answer, accepted):
    assert check(answer, accepted) == Match(False)


COUNT = ["3843"]


@pytest.mark.parametrize(
    "answer",
    [
        "3843",
        "3,843",
        "3 843",
        "3_843",
        "3'843",
        "3.843",
        "3\u202f843",
        "３８４３",
        "٣٨٤٣",
        " 3843 ",
    ],
)
def test_counts_accept_thousands_separators_and_any_digits(answer):
    assert check(answer, COUNT) == Match(True)


def test_counts_group_by_thousands_whatever_the_size():
    assert check("2,257,984", ["2257984"]).correct
    assert check("2 257 984", ["2,257,984"]).correct
    assert not check("2,257,985", ["2257984"]).correct
    assert not check("3843", ["(None, 3843)"]).correct  # a shape question reads a shape


@pytest.mark.parametrize("answer", ["½", "Ⅻ", "三", "38,43", "3,8,4,3", "3.8", "1" * 16])
def test_numbers_that_are_not_whole_counts_are_refused_clearly(answer):
    with pytest.raises(Unreadable, match="whole number with the digits 0-9"):
        check(answer, COUNT)


def test_a_count_question_still_takes_its_worded_answers():
    accepted = ["0", "zero", "none"]
    assert check("0", accepted).correct
    assert check("Zero", accepted).correct
    assert not check("1", accepted).correct
    assert not check("one", accepted).correct  # words that are not accepted are just wrong
