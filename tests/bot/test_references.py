import pytest

from bot import references
from bot.references import InvalidReference, display, find_reference, is_valid, new_reference


def test_new_references_are_valid_random_and_eight_digits():
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500  # random draws, not a counter
    assert all(len(r) == 8 and r.isdigit() and is_valid(r) for r in refs)


def test_every_single_digit_typo_is_caught():
    ref = new_reference()
    for i in range(8):
        for d in "0123456789":
            if d != ref[i]:
                assert not is_valid(ref[:i] + d + ref[i + 1 :])


@pytest.mark.parametrize(
    "template", ["{a}-{b}", "{a}{b}", "{a} {b}", "case {a}-{b} please", "my number is {a} {b}."]
)
def test_accepted_with_or_without_separators(template):
    ref = new_reference()
    assert find_reference(template.format(a=ref[:4], b=ref[4:])) == ref


def test_spoken_digits_are_understood():
    ref = new_reference()
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert find_reference(" ".join(words[int(c)] for c in ref)) == ref


def test_bad_check_digit_is_reported_not_ignored():
    ref = new_reference()
    wrong = ref[:-1] + str((int(ref[-1]) + 1) % 10)
    with pytest.raises(InvalidReference):
        find_reference(f"status of {display(wrong)}")


def test_text_without_a_number_has_no_reference():
    assert find_reference("what is the status of my case") is None
    assert find_reference("call me at 5 pm") is None


def test_display_groups_in_fours():
    assert references.display("12345678") == "1234-5678"
