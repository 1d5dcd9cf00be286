from decimal import Decimal

from apps.invoicing.vat import line_amounts, split_by_weight, unit_net, vat_in_gross

TWENTY = Decimal("20")


def test_vat_inside_awkward_inclusive_amounts_rounds_to_the_nearest_penny():
    assert vat_in_gross(gross=19000, rate=TWENTY) == 3167  # 3166.67
    assert vat_in_gross(gross=1, rate=TWENTY) == 0  # 0.1667
    assert vat_in_gross(gross=3, rate=TWENTY) == 1  # 0.5 exactly: half away from zero
    assert vat_in_gross(gross=-3, rate=TWENTY) == -1  # a discount mirrors a sale
    assert vat_in_gross(gross=9999, rate=Decimal("5")) == 476  # 476.14
    assert vat_in_gross(gross=12345, rate=Decimal("0")) == 0
    assert vat_in_gross(gross=10000, rate=Decimal("17.5")) == 1489  # 1489.36


def test_a_line_always_adds_up_to_what_was_charged():
    for quantity in range(1, 13):
        for unit_gross in (1, 99, 9500, 12999, 33333):
            amounts = line_amounts(quantity=quantity, unit_gross=unit_gross, rate=TWENTY)
            assert amounts.net + amounts.vat == amounts.gross == quantity * unit_gross


def test_unit_net_is_rounded_for_reading():
    assert unit_net(unit_gross=9500, rate=TWENTY) == 7917  # 79.1666…


def test_a_partial_credit_splits_exactly():
    assert split_by_weight(amount=1000, weights=[1, 1, 1]) == [334, 333, 333]
    assert sum(split_by_weight(amount=9999, weights=[19000, 1234, 7])) == 9999
    assert split_by_weight(amount=500, weights=[0, 0]) == [0, 0]
