import math
from collections import Counter

from shipments import tracking_numbers as tn


def test_a_million_generated_numbers_are_unique_and_canonical():
    numbers = [tn.generate() for _ in range(1_000_000)]
    assert len(set(numbers)) == len(numbers)
    assert all(tn.is_canonical(n) for n in numbers[:10_000])


def test_numbers_carry_at_least_64_bits_of_entropy():
    sample = tn.generate()
    symbols = sample.replace("-", "")[len(tn.PREFIX) :]
    assert set(tn.ALPHABET) >= set(symbols)
    assert len(tn.ALPHABET) == 32
    assert len(symbols) * math.log2(len(tn.ALPHABET)) >= 64


def test_alphabet_has_no_ambiguous_letters():
    assert not set("ILOU") & set(tn.ALPHABET)


def test_numbers_have_no_sequential_structure():
    numbers = [tn.generate().replace("-", "")[2:] for _ in range(20_000)]
    # Each position uses every symbol about equally often (chi-square, 31 d.o.f.).
    for position in range(tn.SYMBOLS):
        counts = Counter(n[position] for n in numbers)
        expected = len(numbers) / 32
        chi2 = sum((counts.get(ch, 0) - expected) ** 2 / expected for ch in tn.ALPHABET)
        assert chi2 < 80, (position, chi2)  # p < 1e-5 for 31 degrees of freedom
    # Consecutive numbers share about 1/32 of their positions, as independent draws would.
    shared = sum(
        sum(a == b for a, b in zip(x, y, strict=True))
        for x, y in zip(numbers, numbers[1:], strict=False)
    )
    mean_shared = shared / (len(numbers) - 1)
    assert abs(mean_shared - tn.SYMBOLS / 32) < 0.05


def test_normalize_accepts_what_people_type_and_rejects_the_rest():
    number = tn.generate()
    sloppy = number.lower().replace("-", " ")
    assert tn.normalize(sloppy) == number
    assert tn.normalize("dm-oooo1-iiiil-00000") == "DM-00001-11111-00000"
    for bad in ["", "DM", "DM-12345", "XX-12345-12345-12345", "DM-12345-12345-1234U", "1 OR 1=1"]:
        assert tn.normalize(bad) is None
