@R-MAN-1 @R-MAN-4 @R-MAN-8
Feature: Mandates over three years
  A mandate is valid three years whatever the shared period. The holder is told when renewal
  is due; a renewal works like the first grant. Only the customer or the grid user ends a
  mandate.

  Scenario: Renewal is signalled, the renewal carries on, and without another it expires
    Given the lab clock reads 2026-06-01T10:00:00 in Brussels
    And rig-a is attached to the lab as an ephemeral CI rig
    And G1 is the grid user of the fluvius-t211-1.7.1 meter's access point
    And ESP Alpha is onboarded with a webhook endpoint
    And G1 has granted ESP Alpha a quarter-hour mandate on the fluvius-t211-1.7.1 meter from 2026-05-01
    And the lab runs for 16 minutes
    When ESP Alpha tries to end its mandate
    Then it is refused with forbidden
    When the lab clock moves to 2029-04-02T10:00:00 in Brussels
    And the registers signal what fell due
    Then ESP Alpha was notified of renewal_due with a valid signature
    When G1 renews the mandate of ESP Alpha on the fluvius-t211-1.7.1 meter
    And the lab clock moves to 2029-06-01T10:00:01 in Brussels
    And the registers signal what fell due
    Then ESP Alpha sees its mandate on the fluvius-t211-1.7.1 meter approved
    And ESP Alpha reads 1 quarter hours of the fluvius-t211-1.7.1 meter from 2026-06-01T10:00:00 to 2026-06-01T10:15:00
    When the lab clock moves to 2032-04-02T10:00:00 in Brussels
    And the registers signal what fell due
    Then ESP Alpha was notified of mandate_expired with a valid signature
    And ESP Alpha sees its mandate on the fluvius-t211-1.7.1 meter expired
    And ESP Alpha is refused quarter hours of the fluvius-t211-1.7.1 meter with mandate_expired
