import pytest

from bot.tutor.grading import matches, normalize_answer, parse_choice, parse_shape


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
