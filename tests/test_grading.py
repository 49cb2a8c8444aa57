import pytest

from bot.tutor.grading import (
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
