service {
    https {
        api {
            rest { }
        }
    }
    lldp
    ssh {
    }
}
system
