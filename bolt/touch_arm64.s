//go:build !verso_notouch

#include "textflag.h"

// func touch(addr uintptr)
TEXT ·touch(SB), NOSPLIT, $0-8
	MOVD addr+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET
