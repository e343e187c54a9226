firewall {
    name WAN-IN {
        default-action drop
        rule 10 {
            action accept
            log enable
            state {
                established enable
                related enable
            }
        }
    }
}
interfaces {
    ethernet eth0 {
        address dhcp
        duplex auto
        smp-affinity auto
        speed auto
    }
    loopback lo {
    }
}
system {
    host-name vyos
}


/* Warning: Do not remove the following line. */
/* === vyatta-config-version: "config-management@1:firewall@5:interfaces@4:system@10" === */
/* Release version: 1.2.6 */
