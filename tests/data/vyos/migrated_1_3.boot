interfaces {
    ethernet eth0 {
        address "dhcp"
        disable { }
        offload {
            gro { }
        }
    }
    loopback lo {
    }
}
system {
    host-name "vyos"
}

// Warning: Do not remove the following line.
// vyos-config-version: "interfaces@26:system@25"
// Release version: 1.4-rolling-202303160317
