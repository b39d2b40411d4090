"""The exported forms of a potential give the eager numbers, or say why they cannot be built."""

from __future__ import annotations

import numpy as np
import pytest

from e3lab.calculator import E3labCalculator, ExportError

from ._potentials import PairPotential, periodic_structure, tiny_potential


def _energy_forces(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces()


def _same_as_eager(model, form):
    eager, traced = E3labCalculator(model), E3labCalculator(model, form=form)
    for atoms in (periodic_structure(seed=1), periodic_structure(seed=2, repeat=1)):  # 32 and 4 atoms
        energy, forces = _energy_forces(traced, atoms)
        reference = _energy_forces(eager, atoms)
        assert energy == pytest.approx(reference[0], abs=1e-10)
        np.testing.assert_allclose(forces, reference[1], atol=1e-10)
    assert set(traced._exported) == {False} and traced._exported[False].form == form


def test_export_gives_the_eager_numbers_for_any_size():
    _same_as_eager(PairPotential(), "export")


@pytest.mark.slow
def test_aoti_gives_the_eager_numbers_for_any_size():
    _same_as_eager(PairPotential(), "aoti")


def test_a_potential_that_cannot_be_traced_says_where():
    model = tiny_potential()
    try:
        _same_as_eager(model, "export")
    except ExportError as err:  # the value checks of e3lab's modules read tensors: no symbolic trace
        assert "cannot be exported" in str(err) and " at e3lab/" in str(err) and "form='eager'" in str(err)


def test_bad_form_is_refused():
    with pytest.raises(ValueError, match="form='onnx'"):
        E3labCalculator(PairPotential(), form="onnx")
