package main

import "syscall"

// devSysProcAttr: Windows has no process groups of this kind; Ctrl-C
// reaches the children too, and meshctl dev still stops them in order.
func devSysProcAttr() *syscall.SysProcAttr { return nil }
