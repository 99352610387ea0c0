package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	"cast Deposit{50}: <nil>",
	"call Balance: 150",
	"withdraw 500: insufficient funds: balance 150, asked for 500",
	"is ErrInsufficientFunds: true",
	"withdraw 30 afterwards: balance 120",
	"while the audit of the transfer to savings runs, the account answers: balance 50 (70 on hold)",
	"transfer of 70 to savings: approved (balance 50)",
	"while the audit of the transfer to offshore runs, the account answers: balance 10 (40 on hold)",
	"transfer of 40 to offshore: rejected by the audit (balance 50)",
	"cast Deposit{10} to the stopped account: <nil>",
	"call Balance on the stopped account fails with noproc: true",
}
