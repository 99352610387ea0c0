// Command bank runs a bank account as a GenServer and shows the difference
// between calls and casts: a call waits for the server's answer (a balance,
// or an error such as insufficient funds, after which the server carries
// on), a cast returns at once and is never answered. A transfer shows a
// deferred reply: the server keeps the caller waiting until an auditor,
// running in another goroutine, has approved or rejected it, and answers
// other calls meanwhile.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

// Errors the account answers with. They are replies, not crashes: the
// caller gets them from Call and the account keeps running.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrAuditRejected     = errors.New("rejected by the audit")
)

// Request is a call to the account. Every call is answered with the
// available balance (an int) or an error. Several kinds of request share the
// one request type through this interface.
type Request interface{ isRequest() }

// Balance asks for the available balance.
type Balance struct{}

// Withdraw takes Amount out of the account.
type Withdraw struct{ Amount int }

// Transfer sends Amount to another account once the auditor approves.
type Transfer struct {
	To     string
	Amount int
}

func (Balance) isRequest()  {}
func (Withdraw) isRequest() {}
func (Transfer) isRequest() {}

// Deposit is the account's cast: money in, nothing to answer.
type Deposit struct{ Amount int }

// auditRequest goes from the account to the auditor; auditResult comes
// back as a plain message, which the account gets in HandleInfo.
type auditRequest struct {
	ID      int
	Account pid.Pid
	Transfer
}

type auditResult struct {
	ID       int
	Approved bool
}

// pendingTransfer is a transfer waiting for its audit: the money is on hold
// and the caller is still waiting for its reply.
type pendingTransfer struct {
	from   genserver.From[int]
	amount int
}

// Account is the server's state. Only the account's own callbacks touch it,
// one message at a time, so it needs no lock.
type Account struct {
	balance int
	held    int
	nextID  int
	pending map[int]pendingTransfer
	audits  chan<- auditRequest
}

// Init runs in the server before any message.
func (a *Account) Init(*genserver.Ctx) error {
	a.pending = make(map[int]pendingTransfer)
	return nil
}

// HandleCall answers the calls. An error returned here goes back to the
// caller as Call's error; the server does not crash.
func (a *Account) HandleCall(ctx *genserver.CallCtx[int], req Request) (int, error) {
	switch r := req.(type) {
	case Balance:
		return a.balance, nil
	case Withdraw:
		if r.Amount > a.balance {
			return a.balance, fmt.Errorf("%w: balance %d, asked for %d", ErrInsufficientFunds, a.balance, r.Amount)
		}
		a.balance -= r.Amount
		return a.balance, nil
	case Transfer:
		if r.Amount > a.balance {
			return a.balance, fmt.Errorf("%w: balance %d, asked for %d", ErrInsufficientFunds, a.balance, r.Amount)
		}
		// Put the money on hold, hand the transfer to the auditor and leave
		// the caller waiting: NoReply keeps the call open, and ctx.From()
		// answers it later (here, when the audit comes back).
		a.balance -= r.Amount
		a.held += r.Amount
		a.nextID++
		a.pending[a.nextID] = pendingTransfer{from: ctx.From(), amount: r.Amount}
		a.audits <- auditRequest{ID: a.nextID, Account: ctx.Self(), Transfer: r}
		return ctx.NoReply()
	}
	return a.balance, fmt.Errorf("unknown request %T", req)
}

// HandleCast handles deposits. Nobody waits for an answer.
func (a *Account) HandleCast(_ *genserver.Ctx, d Deposit) { a.balance += d.Amount }

// HandleInfo gets the auditor's verdicts and answers the waiting transfers.
// From.Reply works from any goroutine; answering here, after the state has
// been settled, makes the reply agree with the balance.
func (a *Account) HandleInfo(_ *genserver.Ctx, msg any) {
	res, ok := msg.(auditResult)
	if !ok {
		return
	}
	p, ok := a.pending[res.ID]
	if !ok {
		return
	}
	delete(a.pending, res.ID)
	a.held -= p.amount
	if !res.Approved {
		a.balance += p.amount // the hold is released
		p.from.Reply(a.balance, ErrAuditRejected)
		return
	}
	p.from.Reply(a.balance, nil)
}

// auditor approves every transfer except those to "offshore". It runs in a
// goroutine of its own and takes its time: it tells main that an audit has
// started and waits for main to let it finish, so that the story can look at
// the account while a transfer is pending.
func auditor(node *process.Node, requests <-chan auditRequest, started chan<- auditRequest, finish <-chan struct{}) {
	for req := range requests {
		started <- req
		<-finish
		node.Send(req.Account, auditResult{ID: req.ID, Approved: req.To != "offshore"})
	}
}

// run opens an account and walks through calls, casts and a deferred reply.
func run(w io.Writer) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	requests := make(chan auditRequest, 4)
	started := make(chan auditRequest)
	finish := make(chan struct{})
	auditorDone := make(chan struct{})
	go func() {
		defer close(auditorDone)
		auditor(node, requests, started, finish)
	}()
	defer func() { close(requests); <-auditorDone }()

	account, err := genserver.Start(ctx, node, &Account{balance: 100, audits: requests})
	if err != nil {
		return err
	}

	say("1. A cast returns at once and gets no answer; a call waits for one.")
	say("   cast Deposit{50}: %v", account.Cast(Deposit{Amount: 50}))
	// Messages from one sender arrive in order, so this call is handled
	// after the deposit.
	balance, err := account.Call(ctx, Balance{})
	if err != nil {
		return err
	}
	say("   call Balance: %d", balance)

	say("2. A call can answer with an error; the server keeps running.")
	_, err = account.Call(ctx, Withdraw{Amount: 500})
	say("   withdraw 500: %v", err)
	say("   is ErrInsufficientFunds: %v", errors.Is(err, ErrInsufficientFunds))
	if balance, err = account.Call(ctx, Withdraw{Amount: 30}); err != nil {
		return err
	}
	say("   withdraw 30 afterwards: balance %d", balance)

	say("3. A deferred reply: a transfer waits for an audit done in another goroutine.")
	transfer := func(to string, amount int) <-chan string {
		done := make(chan string, 1)
		go func() {
			balance, err := account.Call(ctx, Transfer{To: to, Amount: amount})
			if err != nil {
				done <- fmt.Sprintf("transfer of %d to %s: %v (balance %d)", amount, to, err, balance)
				return
			}
			done <- fmt.Sprintf("transfer of %d to %s: approved (balance %d)", amount, to, balance)
		}()
		return done
	}
	for _, t := range []struct {
		to     string
		amount int
	}{{"savings", 70}, {"offshore", 40}} {
		result := transfer(t.to, t.amount)
		req := <-started // the audit is under way, the caller still waits
		// The account is not blocked by the waiting call: it answers others.
		if balance, err = account.Call(ctx, Balance{}); err != nil {
			return err
		}
		say("   while the audit of the transfer to %s runs, the account answers: balance %d (%d on hold)", req.To, balance, req.Amount)
		finish <- struct{}{}
		say("   %s", <-result)
	}

	say("4. After the server stops, a cast is silently dropped but a call fails.")
	if err := account.Stop(ctx, nil); err != nil {
		return err
	}
	say("   cast Deposit{10} to the stopped account: %v", account.Cast(Deposit{Amount: 10}))
	_, err = account.Call(ctx, Balance{})
	say("   call Balance on the stopped account fails with noproc: %v", errors.Is(err, process.NoProc))
	return nil
}
