import pytest

from laurels import cli
from laurels.issuing.models import Assertion, IssuerStaff
from tests.factories import BadgeClassFactory, UserFactory

pytestmark = pytest.mark.django_db


def write_csv(tmp_path, text):
    path = tmp_path / "awards.csv"
    path.write_text(text)
    return str(path)


def test_awards_every_row_with_progress(tmp_path, capsys):
    badge_class = BadgeClassFactory()
    rows = "identity,name,narrative,evidence URL\n" + "".join(
        f"learner{n}@example.org,Learner {n},Passed,https://e.example.org/{n}\n"
        for n in range(2500)
    )
    assert cli.main(["award", badge_class.entity_id, "--csv", write_csv(tmp_path, rows)]) == 0
    out = capsys.readouterr()
    assert "Awarded" in out.out and "2500" in out.out
    assert "2500/2500 awards prepared" in out.err
    assert Assertion.objects.filter(badge_class=badge_class).count() == 2500
    one = Assertion.objects.get(recipient_plaintext="learner7@example.org")
    assert one.recipient_name == "Learner 7"
    assert one.evidence == [{"url": "https://e.example.org/7"}]


def test_one_bad_row_awards_nothing_and_names_the_line(tmp_path, capsys):
    badge_class = BadgeClassFactory()
    rows = "".join(f"l{n}@example.org\n" for n in range(1500)) + "not-an-address\n"
    assert cli.main(["award", badge_class.entity_id, "--csv", write_csv(tmp_path, rows)]) == 2
    err = capsys.readouterr().err
    assert "line 1501" in err and "Nothing was awarded" in err
    assert not Assertion.objects.exists()


def test_as_a_staff_member(tmp_path, capsys):
    badge_class = BadgeClassFactory()
    staff = UserFactory(email="staff@example.org")
    IssuerStaff.objects.create(issuer=badge_class.issuer, user=staff, role="staff")
    path = write_csv(tmp_path, "a@example.org\n")
    assert (
        cli.main(["award", badge_class.entity_id, "--csv", path, "--as", "staff@example.org"]) == 0
    )
    assert Assertion.objects.get().created_by == staff
    UserFactory(email="outsider@example.org")
    assert (
        cli.main(["award", badge_class.entity_id, "--csv", path, "--as", "outsider@example.org"])
        == 2
    )


def test_unknown_badge_class_and_missing_file(tmp_path, capsys):
    assert cli.main(["award", "nope", "--csv", write_csv(tmp_path, "a@example.org\n")]) == 2
    badge_class = BadgeClassFactory()
    assert cli.main(["award", badge_class.entity_id, "--csv", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
