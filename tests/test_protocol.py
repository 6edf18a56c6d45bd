"""Clinical protocols: the condition language, the rule schema and presets, and vectorised decisions."""

import itertools
import operator

import numpy as np
import pytest

from cartsim import conditions
from cartsim.clinical._protocol import ProtocolState, decide, rule_dose_mg
from cartsim.conditions import MAX_CONDITION_DEPTH, MAX_CONDITION_LENGTH, Condition
from cartsim.io import (DRUGS, PROTOCOL_PRESETS, VISIT_VARIABLES, ClinicalSettings, Rule, Scenario, ScenarioError,
                        VisitSegment, load_scenario)


def compile_condition(text, variables=VISIT_VARIABLES):
    """The language over the visit variables, as the schema and the clinical clock use it."""
    return conditions.compile_condition(text, variables)

# --- condition language -----------------------------------------------------------------------

# every combination of three 0/1 variables, one per "patient"
_A, _B, _C = (np.array(column) for column in zip(*itertools.product((0, 1), repeat=3)))
_ABC = {"fever": _A, "crs_grade": _B, "icans_grade": _C}
a, b, c = _A != 0, _B != 0, _C != 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fever or crs_grade and icans_grade", a | (b & c)),  # and binds tighter than or
        ("fever and crs_grade or icans_grade", (a & b) | c),
        ("(fever or crs_grade) and icans_grade", (a | b) & c),
        ("fever and (crs_grade or icans_grade)", a & (b | c)),
        ("not fever and crs_grade", ~a & b),  # not binds tighter than and
        ("not (fever and crs_grade)", ~(a & b)),
        ("not not fever", a),
        ("not fever or not crs_grade and icans_grade", ~a | (~b & c)),
        ("((fever))", a),
        ("fever or crs_grade or icans_grade", a | b | c),
        ("fever and crs_grade and icans_grade", a & b & c),
    ],
)
def test_precedence_and_parentheses(text, expected):
    result = compile_condition(text)(_ABC)
    assert result.dtype == bool
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("op", "function"),
    [(">=", operator.ge), (">", operator.gt), ("<=", operator.le), ("<", operator.lt),
     ("==", operator.eq), ("!=", operator.ne)],
)
def test_each_operator(op, function):
    grades = np.array([0, 1, 2, 3, 4])
    result = compile_condition(f"crs_grade {op} 2")({"crs_grade": grades})
    np.testing.assert_array_equal(result, function(grades, 2))
    # no spaces needed
    np.testing.assert_array_equal(compile_condition(f"crs_grade{op}2")({"crs_grade": grades}), function(grades, 2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("day >= -1", [False, True, True, True]),
        ("day > -1.5", [False, True, True, True]),
        ("day < -1.5", [True, False, False, False]),
        ("day==-1", [False, True, False, False]),
        ("day > -.5", [False, False, True, True]),
        ("day >= 1e0", [False, False, False, True]),
        ("day < 2.", [True, True, True, True]),
    ],
)
def test_numbers_including_negative(text, expected):
    day = np.array([-2.0, -1.0, 0.0, 1.0])
    np.testing.assert_array_equal(compile_condition(text)({"day": day}), expected)


def test_bare_name_is_true_where_nonzero():
    values = {"temperature_c": np.array([0.0, 37.2, -1.0, 0.0]), "fever": np.array([1, 0, 0, 0])}
    np.testing.assert_array_equal(compile_condition("temperature_c")(values), [False, True, True, False])
    np.testing.assert_array_equal(compile_condition("fever")(values), [True, False, False, False])
    np.testing.assert_array_equal(compile_condition("not fever")(values), [False, True, True, True])


def test_vectorised_over_patients_with_scalar_broadcast():
    rng = np.random.default_rng(1)
    crs = rng.integers(0, 5, 1000)
    toci = rng.integers(0, 4, 1000)
    condition = compile_condition("(crs_grade >= 3 and tocilizumab_doses >= 2) or day > 10")
    early = condition({"crs_grade": crs, "tocilizumab_doses": toci, "day": 5.0})
    np.testing.assert_array_equal(early, (crs >= 3) & (toci >= 2))
    assert early.shape == (1000,)
    assert condition({"crs_grade": crs, "tocilizumab_doses": toci, "day": 11.0}).all()


def test_condition_records_text_and_variables_used():
    condition = compile_condition("fever and not (crs_grade > 1 or hours_since_tocilizumab >= 8)")
    assert isinstance(condition, Condition)
    assert condition.text == "fever and not (crs_grade > 1 or hours_since_tocilizumab >= 8)"
    assert condition.variables == {"fever", "crs_grade", "hours_since_tocilizumab"}


def test_compiled_once_per_text():
    assert compile_condition("icans_grade >= 2") is compile_condition("icans_grade >= 2")


def test_missing_value_at_evaluation_names_variable():
    with pytest.raises(KeyError, match="icans_grade"):
        compile_condition("fever or icans_grade > 1")({"fever": np.array([0])})


def test_visit_variables_cover_every_drug():
    assert {"day", "crs_grade", "icans_grade", "crs_max_grade", "icans_max_grade", "temperature_c",
            "fever"} <= set(VISIT_VARIABLES)
    for drug in DRUGS:
        assert f"{drug}_doses" in VISIT_VARIABLES
        assert f"hours_since_{drug}" in VISIT_VARIABLES
        compile_condition(f"{drug}_doses >= 1 and hours_since_{drug} < 6")


def test_custom_variable_set():
    assert compile_condition("x > 1", variables={"x"})({"x": np.array([1, 2])}).tolist() == [False, True]
    with pytest.raises(ValueError, match=r"unknown variable 'day' at position 0; known: x, y$"):
        compile_condition("day > 1", variables=("y", "x"))


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("crs > 2", ["unknown variable 'crs' at position 0", "known: ", "crs_grade", "day", "tocilizumab_doses"]),
        ("fever and crs > 2", ["unknown variable 'crs' at position 10"]),
        ("crs_grade >> 2", ["expected a comparison operator", "'and'/'or'", "at position 10", "got '>>'"]),
        ("crs_grade = 2", ["expected a comparison operator", "at position 10", "got '='"]),
        ("crs_grade 2", ["expected a comparison operator", "at position 10", "got '2'"]),
        ("crs_grade >= ", ["expected a number after '>='", "at position 13", "got end of condition"]),
        ("crs_grade >= fever", ["expected a number after '>='", "at position 13", "got 'fever'"]),
        ("crs_grade >= - 2", ["unexpected character '-' at position 13"]),
        ("", ["empty condition", "expected a variable", "position 0"]),
        ("   ", ["empty condition", "expected a variable", "position 3"]),
        ("2 < day", ["expected a variable, 'not' or '('", "at position 0", "got '2'"]),
        ("fever and", ["expected a variable, 'not' or '('", "at position 9", "got end of condition"]),
        ("and fever", ["expected a variable", "at position 0", "got 'and'"]),
        ("not", ["expected a variable", "at position 3"]),
        ("(fever or day > 1", ["expected ')'", "'(' at position 0", "at position 17", "got end of condition"]),
        ("fever)", ["or end of condition", "at position 5", "got ')'"]),
        ("day > 1)", ["expected 'and'/'or' or end of condition", "at position 7", "got ')'"]),
        ("fever day", ["expected a comparison operator or 'and'/'or'", "at position 6", "got 'day'"]),
        ("(fever day)", ["or ')'", "at position 7", "got 'day'"]),
        ("day > 1 2", ["expected 'and'/'or' or end of condition", "at position 8", "got '2'"]),
        ("fever && day", ["unexpected character '&' at position 6"]),
        ("()", ["expected a variable", "at position 1", "got ')'"]),
    ],
)
def test_errors_name_position_and_expected(text, fragments):
    with pytest.raises(ValueError) as error:
        compile_condition(text)
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("text", "character"),
    [
        ("crs_grade >= \u0663", "'\u0663' (ARABIC-INDIC DIGIT THREE) at position 13"),
        ("crs_grade >= 1\u0663", "'\u0663' (ARABIC-INDIC DIGIT THREE) at position 14"),
        ("day > \u0968", "(DEVANAGARI DIGIT TWO) at position 6"),
        ("day > \uff15", "(FULLWIDTH DIGIT FIVE) at position 6"),
        ("day > \u00b2", "(SUPERSCRIPT TWO) at position 6"),
    ],
)
def test_only_ascii_digits_make_numbers(text, character):
    with pytest.raises(ValueError) as error:
        compile_condition(text)
    message = str(error.value)
    assert "unexpected character" in message and character in message
    assert f"of {text!r}" in message  # the condition itself, where the character can be seen
    assert "digits 0-9" in message


def test_non_ascii_space_is_named_not_skipped():
    with pytest.raises(ValueError, match=r"'\\xa0' \(NO-BREAK SPACE\) at position 3 of"):
        compile_condition("day\u00a0> 1")


def test_nesting_and_length_are_bounded_not_recursion_errors():
    deepest = MAX_CONDITION_DEPTH // 2
    assert compile_condition("(" * deepest + "not " * deepest + "fever" + ")" * deepest)(_ABC).tolist() == (
        a if deepest % 2 == 0 else ~a).tolist()
    for text, fragment in [
        ("(" * (MAX_CONDITION_DEPTH + 1) + "fever" + ")" * (MAX_CONDITION_DEPTH + 1), "nested deeper than"),
        ("not " * (MAX_CONDITION_DEPTH + 1) + "fever", "nested deeper than"),
        ("(" * 400 + "fever" + ")" * 400, "nested deeper than"),  # within the length, far past the depth
        ("(" * 5000 + "fever" + ")" * 5000, f"at most {MAX_CONDITION_LENGTH} are read"),
        (" or ".join(["fever"] * 300), f"at most {MAX_CONDITION_LENGTH} are read"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            compile_condition(text)


# --- scenario schema --------------------------------------------------------------------------

_TOCI = {"when": "crs_grade >= 2", "give": "tocilizumab", "dose_mg_per_kg": 8, "max_dose_mg": 800,
         "repeat_after_hours": 8, "max_doses": 3}


def _problems(protocol):
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"protocol": protocol})
    return str(error.value)


def test_default_protocol_is_standard_rules():
    scenario = Scenario()
    assert scenario.protocol == PROTOCOL_PRESETS["standard"]
    assert Scenario.validated({}).protocol == scenario.protocol
    assert Scenario.validated({"protocol": "standard"}) == scenario
    assert all(isinstance(rule, Rule) for rule in scenario.protocol)


def test_standard_preset_doses():
    toci, dex, anakinra, switch = PROTOCOL_PRESETS["standard"]
    assert (toci.give, toci.when, toci.dose_mg_per_kg, toci.max_dose_mg, toci.repeat_after_hours, toci.max_doses) \
        == ("tocilizumab", "crs_grade >= 2", 8, 800, 8, 3)
    assert (dex.give, dex.dose_mg, dex.repeat_after_hours, dex.max_doses) == ("corticosteroid", 10, 6, 12)
    assert dex.when == "crs_grade >= 3 or icans_grade >= 2"
    assert (anakinra.give, anakinra.dose_mg, anakinra.repeat_after_hours, anakinra.max_doses) == ("anakinra", 100, 6, 12)
    assert (switch.give, switch.dose_mg, switch.repeat_after_hours, switch.max_doses) == ("switch_drug", 20, None, 1)
    assert switch.when == "crs_grade >= 4"
    # anakinra only after two tocilizumab doses (CRS) or two steroid doses (ICANS)
    condition = compile_condition(anakinra.when)
    values = {"crs_grade": np.array([3, 3, 0, 0]), "icans_grade": np.array([0, 0, 3, 3]),
              "tocilizumab_doses": np.array([1, 2, 0, 0]), "corticosteroid_doses": np.array([0, 0, 1, 2])}
    assert condition(values).tolist() == [False, True, False, True]


def test_other_presets():
    standard = PROTOCOL_PRESETS["standard"]
    assert Scenario.validated({"protocol": "none"}).protocol == ()
    prophylactic = Scenario.validated({"protocol": "prophylactic_tocilizumab"}).protocol
    assert prophylactic[1:] == standard
    first = prophylactic[0]
    assert (first.give, first.when, first.dose_mg_per_kg, first.max_dose_mg, first.max_doses) \
        == ("tocilizumab", "infused", 8, 800, 1)
    early = Scenario.validated({"protocol": "early_tocilizumab"}).protocol
    assert early[1:] == standard
    assert (early[0].give, early[0].when, early[0].max_doses) == ("tocilizumab", "fever", 1)


def test_unknown_preset_lists_presets():
    message = _problems("agressive")
    assert "protocol" in message
    assert "unknown protocol preset 'agressive'" in message
    for name in ("standard", "none", "prophylactic_tocilizumab", "early_tocilizumab"):
        assert name in message


def test_rules_from_a_list_with_default_name():
    scenario = Scenario.validated({"protocol": [_TOCI, {"when": "fever", "give": "anakinra", "dose_mg": 100,
                                                          "name": "anakinra at fever"}]})
    toci, anakinra = scenario.protocol
    assert toci.name == "tocilizumab when crs_grade >= 2"
    assert anakinra.name == "anakinra at fever"
    assert (anakinra.max_doses, anakinra.repeat_after_hours) == (1, None)
    assert Scenario.validated({"protocol": []}).protocol == ()


def test_bad_condition_names_field_and_parser_message():
    message = _problems([_TOCI, {**_TOCI, "when": "crs_grade >= 2 and crs > 1"}])
    assert "1 invalid field(s)" in message
    assert "protocol.1.when" in message
    assert "unknown variable 'crs' at position 19" in message
    assert "crs_grade" in message
    message = _problems([{**_TOCI, "when": "crs_grade >> 2"}])
    assert "protocol.0.when" in message and "position 10" in message and "'>>'" in message
    message = _problems([_TOCI, {**_TOCI, "when": "(" * 400 + "fever" + ")" * 400}])
    assert "protocol.1.when" in message and "nested deeper than" in message


def test_non_ascii_digit_in_a_rule_names_the_rule_and_character():
    message = _problems([{**_TOCI, "when": "crs_grade >= \u0662"}])
    assert "protocol.0.when" in message and "ARABIC-INDIC DIGIT TWO" in message and "position 13" in message


def test_unknown_drug_lists_known():
    message = _problems([{**_TOCI, "give": "aspirin"}])
    assert "protocol.0.give" in message and "aspirin" in message
    for drug in DRUGS:
        assert drug in message


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"dose_mg_per_kg": 0}, "protocol.0.dose_mg_per_kg", "greater than 0"),
        ({"dose_mg_per_kg": -8}, "protocol.0.dose_mg_per_kg", "greater than 0"),
        ({"dose_mg_per_kg": 80}, "protocol.0.dose_mg_per_kg", "less than or equal to 50"),
        ({"max_dose_mg": 0}, "protocol.0.max_dose_mg", "greater than 0"),
        ({"max_dose_mg": 9000}, "protocol.0.max_dose_mg", "less than or equal to 5000"),
        ({"dose_mg_per_kg": None, "max_dose_mg": None, "dose_mg": 0}, "protocol.0.dose_mg", "greater than 0"),
        ({"dose_mg_per_kg": None, "max_dose_mg": None, "dose_mg": 6000}, "protocol.0.dose_mg",
         "less than or equal to 5000"),
        ({"repeat_after_hours": 0}, "protocol.0.repeat_after_hours", "greater than 0"),
        ({"max_doses": 0}, "protocol.0.max_doses", "greater than or equal to 1"),
        ({"dose_mg": 100}, "protocol.0: ", "exactly one of dose_mg or dose_mg_per_kg (got both)"),
        ({"dose_mg_per_kg": None, "max_dose_mg": None}, "protocol.0: ", "exactly one of dose_mg or dose_mg_per_kg (got neither)"),
        ({"dose_mg_per_kg": None, "dose_mg": 100}, "protocol.0: ", "max_dose_mg caps a weight-based dose"),
        ({"repeat_after_hours": None}, "protocol.0: ", "max_doses = 3 needs repeat_after_hours"),
        ({"every": 8}, "protocol.0.every", "Extra inputs are not permitted"),
        ({"when": None}, "protocol.0.when", "valid string"),
    ],
)
def test_rule_validation(change, field, fragment):
    rule = {**_TOCI, **change}
    rule = {key: value for key, value in rule.items() if value is not None or key == "when"}
    message = _problems([rule])
    assert field in message
    assert fragment in message


def test_protocol_round_trips_through_dump_and_yaml(tmp_path):
    scenario = Scenario.validated({"protocol": "early_tocilizumab"})
    assert Scenario.validated(scenario.model_dump(mode="json")) == scenario
    path = tmp_path / "p.yaml"
    path.write_text(
        "protocol:\n"
        "  - when: 'crs_grade >= 2'\n    give: tocilizumab\n    dose_mg_per_kg: 8\n    max_dose_mg: 800\n"
        "    repeat_after_hours: 8\n    max_doses: 3\n"
        "clinical:\n  visits:\n    - {until_day: 14, every_hours: 4}\n    - {every_hours: 24}\n"
    )
    loaded = load_scenario(path)
    assert loaded.protocol == (Rule(**_TOCI),)
    assert loaded.clinical.visits == (VisitSegment(until_day=14, every_hours=4), VisitSegment(every_hours=24))


# --- clinical visit schedule ------------------------------------------------------------------


def test_default_visits():
    visits = Scenario().clinical.visits
    assert [(segment.until_day, segment.every_hours) for segment in visits] == [(30, 6), (90, 24), (None, 720)]
    assert ClinicalSettings.model_validate({}) == Scenario().clinical


@pytest.mark.parametrize(
    ("visits", "field", "fragment"),
    [
        ([{"until_day": 30, "every_hours": 6}, {"until_day": 30, "every_hours": 24}, {"every_hours": 720}],
         "clinical.visits", "until_day must increase strictly: segment 1 has 30 after 30"),
        ([{"until_day": 30, "every_hours": 6}, {"until_day": 10, "every_hours": 24}, {"every_hours": 720}],
         "clinical.visits", "segment 1 has 10 after 30"),
        ([{"every_hours": 6}, {"until_day": 90, "every_hours": 24}, {"every_hours": 720}],
         "clinical.visits", "only the last visit segment may omit until_day; segment 0 has none"),
        ([{"until_day": 30, "every_hours": 6}, {"until_day": 90, "every_hours": 24}],
         "clinical.visits", "must omit until_day; got 90"),
        ([], "clinical.visits", "at least one visit segment"),
        ([{"until_day": 0, "every_hours": 6}, {"every_hours": 24}], "clinical.visits.0.until_day", "greater than 0"),
        ([{"until_day": -3, "every_hours": 6}, {"every_hours": 24}], "clinical.visits.0.until_day", "greater than 0"),
        ([{"until_day": 30, "every_hours": 0.5}, {"every_hours": 24}], "clinical.visits.0.every_hours",
         "greater than or equal to 1"),
        ([{"every_hours": 9000}], "clinical.visits.0.every_hours", "less than or equal to 8760"),
        ([{"until_day": 30}, {"every_hours": 24}], "clinical.visits.0.every_hours", "Field required"),
    ],
)
def test_visit_validation(visits, field, fragment):
    with pytest.raises(ScenarioError) as error:
        Scenario.validated({"clinical": {"visits": visits}})
    message = str(error.value)
    assert field in message
    assert fragment in message


def test_single_open_segment_is_valid():
    assert Scenario.validated({"clinical": {"visits": [{"every_hours": 24}]}}).clinical.visits == (
        VisitSegment(every_hours=24),
    )


# --- decisions --------------------------------------------------------------------------------


def _visit(n, **values):
    base = {name: np.zeros(n) for name in VISIT_VARIABLES}
    base.update({name: np.broadcast_to(np.asarray(value, dtype=float), (n,)) for name, value in values.items()})
    return base


def _run(rules, visits, weight_kg, alive=None):
    """Decide at each (day, values); return the total dose per rule and patient and the state."""
    n = len(weight_kg)
    alive = np.ones(n, dtype=bool) if alive is None else np.asarray(alive)
    state = ProtocolState.start(len(rules), n)
    totals = np.zeros((len(rules), n))
    history = []
    for day, values in visits:
        fired = decide(rules, state, values, day, np.asarray(weight_kg, dtype=float), alive)
        history.append(fired)
        for index, dose in fired:
            totals[index] += dose
    return totals, state, history


def test_start_state():
    state = ProtocolState.start(3, 5)
    assert state.doses_given.shape == (3, 5) and state.doses_given.dtype == np.int32
    assert not state.doses_given.any()
    assert state.last_given_day.shape == (3, 5) and np.all(state.last_given_day == -np.inf)


def test_once_only_rule_fires_once_where_condition_holds():
    rule = Rule(when="fever", give="anakinra", dose_mg=100)
    fever = [1, 0, 1]
    visits = [(day, _visit(3, fever=fever)) for day in (0.0, 0.25, 1.0, 10.0)]
    totals, state, history = _run([rule], visits, [70, 70, 70])
    assert totals[0].tolist() == [100, 0, 100]
    assert state.doses_given[0].tolist() == [1, 0, 1]
    assert state.last_given_day[0].tolist() == [0.0, -np.inf, 0.0]
    assert [len(fired) for fired in history] == [1, 0, 0, 0]
    index, dose = history[0][0]
    assert index == 0 and dose.tolist() == [100, 0, 100]


def test_repeat_interval_fires_at_0_and_8_hours_not_6():
    rule = Rule(when="crs_grade >= 2", give="corticosteroid", dose_mg=10, repeat_after_hours=8, max_doses=5)
    days = [0.0, 6 / 24, 8 / 24, 14 / 24, 16 / 24]
    visits = [(day, _visit(1, crs_grade=2)) for day in days]
    _, state, history = _run([rule], visits, [70])
    fired_at = [day for day, fired in zip(days, history) if fired]
    assert fired_at == [0.0, 8 / 24, 16 / 24]
    assert state.doses_given[0, 0] == 3
    assert state.last_given_day[0, 0] == 16 / 24


def test_interval_counts_from_each_patients_own_last_dose():
    rule = Rule(when="fever", give="corticosteroid", dose_mg=10, repeat_after_hours=8, max_doses=5)
    visits = [(0.0, _visit(2, fever=[1, 0])), (6 / 24, _visit(2, fever=[1, 1])), (8 / 24, _visit(2, fever=[1, 1]))]
    _, _, history = _run([rule], visits, [70, 70])
    assert [fired[0][1].tolist() for fired in history] == [[10, 0], [0, 10], [10, 0]]


def test_max_doses_cap():
    rule = Rule(when="day >= 0", give="anakinra", dose_mg=100, repeat_after_hours=1, max_doses=3)
    visits = [(hour / 24, _visit(2, day=hour / 24)) for hour in range(10)]
    totals, state, history = _run([rule], visits, [70, 70])
    assert state.doses_given[0].tolist() == [3, 3]
    assert totals[0].tolist() == [300, 300]
    assert [bool(fired) for fired in history] == [True] * 3 + [False] * 7


def test_per_kg_dose_with_cap():
    rule = Rule(**_TOCI)
    weights = np.array([50.0, 100.0, 150.0])
    np.testing.assert_allclose(rule_dose_mg(rule, weights), [400, 800, 800])
    _, _, history = _run([rule], [(1.0, _visit(3, crs_grade=[2, 2, 1]))], weights)
    ((index, dose),) = history[0]
    assert index == 0
    np.testing.assert_allclose(dose, [400, 800, 0])
    uncapped = Rule(when="fever", give="tocilizumab", dose_mg_per_kg=8)
    np.testing.assert_allclose(rule_dose_mg(uncapped, weights), [400, 800, 1200])
    flat = Rule(when="fever", give="corticosteroid", dose_mg=10)
    np.testing.assert_allclose(rule_dose_mg(flat, weights), [10, 10, 10])


def test_dead_patients_never_dosed():
    rule = Rule(when="crs_grade >= 2", give="tocilizumab", dose_mg=560, repeat_after_hours=8, max_doses=3)
    alive = np.array([True, False, True, False])
    visits = [(day, _visit(4, crs_grade=4)) for day in (0.0, 0.5, 1.0)]
    totals, state, _ = _run([rule], visits, [70] * 4, alive=alive)
    assert totals[0].tolist() == [1680, 0, 1680, 0]
    assert state.doses_given[0].tolist() == [3, 0, 3, 0]
    assert np.all(state.last_given_day[0, ~alive] == -np.inf)
    state = ProtocolState.start(1, 4)
    assert decide([rule], state, _visit(4, crs_grade=4), 0.0, np.full(4, 70.0), np.zeros(4, dtype=bool)) == []


def test_several_rules_decided_together_and_indexed():
    rules = Scenario().protocol  # standard: tocilizumab, dexamethasone, anakinra, switch
    n = 4
    values = _visit(n, crs_grade=[1, 2, 3, 4], tocilizumab_doses=[0, 0, 2, 0])
    state = ProtocolState.start(len(rules), n)
    fired = dict(decide(rules, state, values, 2.0, np.array([60.0, 70.0, 80.0, 120.0]), np.ones(n, dtype=bool)))
    assert set(fired) == {0, 1, 2, 3}
    np.testing.assert_allclose(fired[0], [0, 560, 640, 800])  # tocilizumab 8 mg/kg, max 800
    np.testing.assert_allclose(fired[1], [0, 0, 10, 10])  # dexamethasone for CRS >= 3
    np.testing.assert_allclose(fired[2], [0, 0, 100, 0])  # anakinra after two tocilizumab doses
    np.testing.assert_allclose(fired[3], [0, 0, 0, 20])  # switch at grade 4
    assert state.doses_given.tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert decide(rules, ProtocolState.start(len(rules), n), _visit(n), 2.0, np.full(n, 70.0),
                  np.ones(n, dtype=bool)) == []


def test_state_shape_must_match():
    rules = PROTOCOL_PRESETS["standard"]
    with pytest.raises(ValueError, match="protocol state"):
        decide(rules, ProtocolState.start(len(rules), 3), _visit(4), 0.0, np.full(4, 70.0), np.ones(4, dtype=bool))
