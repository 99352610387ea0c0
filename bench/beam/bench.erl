%% Workloads W1..W8 of BENCHMARKS.md on the BEAM (system "beam").
%% Run through run.sh:  bench/beam/run.sh W2   (QUICK=1 divides every N by 10)
%% Prints "RESULT beam <workload> <value> <unit>" on stdout, notes on stderr.
%%
%% The module is its own gen_server callback module (init(server), init(child))
%% and its own supervisor callback module (init(sup)); no -behaviour attributes,
%% since both behaviours define init/1.
-module(bench).
-export([main/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2, code_change/3]).

-define(SYSTEM, "beam").
-define(CHILD, bench_child).

main([W]) ->
    logger:set_primary_config(level, none), % logging off while measuring
    Code = try run(string:uppercase(W)) of
               _ -> 0
           catch C:R:St ->
               note("FAIL ~s ~s: ~p:~p ~p", [?SYSTEM, W, C, R, St]),
               1
           end,
    erlang:halt(Code);
main(_) ->
    note("usage: run.sh W1..W8 (QUICK=1 divides every N by 10)", []),
    erlang:halt(2).

run("W1") -> w1();
run("W2") -> w2();
run("W3") -> cast_run("W3", 1, n(2000000));
run("W4") -> cast_run("W4", 8, n(250000));
run("W5") -> w5();
run("W6") -> w6();
run("W7") -> w7();
run("W8") -> w8();
run(W) -> error({unknown_workload, W}).

%% ---- helpers ----

n(N) ->
    case os:getenv("QUICK") of
        "1" -> N div 10;
        _ -> N
    end.

now_ns() -> erlang:monotonic_time(nanosecond).

result(W, V, Unit) ->
    Prec = case Unit of "msgs/s" -> 0; "bytes/proc" -> 0; _ -> 1 end,
    io:format("RESULT ~s ~s ~s ~s~n", [?SYSTEM, W, float_to_list(float(V), [{decimals, Prec}]), Unit]).

note(Fmt, Args) -> io:format(standard_error, Fmt ++ "~n", Args).

check(Want, Want) -> ok;
check(Want, Got) -> error({answered, Got, Want}).

repeat(0, _F) -> ok;
repeat(N, F) -> F(N), repeat(N - 1, F).

%% ---- gen_server callbacks ----

init(server) -> {ok, 0};
init(child) -> {ok, 0};
init(sup) ->
    %% one_for_one, one permanent registered child; intensity high enough for
    %% the 1,000 restarts (as every system is configured).
    {ok, {#{strategy => one_for_one, intensity => 1000000, period => 1},
          [#{id => child, restart => permanent,
             start => {gen_server, start_link, [{local, ?CHILD}, ?MODULE, child, []]}}]}}.

handle_call({call, V}, _From, S) -> {reply, V + 1, S};
handle_call(count, _From, N) -> {reply, N, N};
handle_call(who, _From, S) -> {reply, self(), S}.

handle_cast({cast, _}, N) -> {noreply, N + 1}.

handle_info(_, S) -> {noreply, S}.
terminate(_, _) -> ok.
code_change(_, S, _) -> {ok, S}.

%% ---- W1: spawn N gen_servers ----

w1() ->
    N = n(100000),
    garbage_collect(),
    M0 = erlang:memory(processes),
    {memory, Self0} = process_info(self(), memory),
    T0 = now_ns(),
    Pids = start_servers(N, []),
    El = now_ns() - T0,
    garbage_collect(),
    M1 = erlang:memory(processes),
    {memory, Self1} = process_info(self(), memory),
    %% every server answers a call
    [check(I + 1, gen_server:call(lists:nth(I, Pids), {call, I})) || I <- [1, N div 2, N]],
    result("W1", El / N, "ns/proc"),
    %% memory of the servers alone: the benchmark process's own growth
    %% (the list of pids) is taken out
    result("W1", (M1 - M0 - (Self1 - Self0)) / N, "bytes/proc"),
    note("NOTE ~s W1 erlang:memory(processes) ~b -> ~b bytes, ~b servers", [?SYSTEM, M0, M1, N]),
    [exit(P, shutdown) || P <- Pids],
    ok.

start_servers(0, Acc) -> Acc;
start_servers(N, Acc) ->
    {ok, P} = gen_server:start(?MODULE, server, []), % returns once init is done
    start_servers(N - 1, [P | Acc]).

%% ---- W2: gen_server:call round trips ----

w2() ->
    Warm = n(10000), Calls = n(1000000),
    {ok, P} = gen_server:start_link(?MODULE, server, []),
    repeat(Warm, fun(I) -> check(I + 1, gen_server:call(P, {call, I})) end),
    T0 = now_ns(),
    Sum = calls(P, Calls, 0),
    El = now_ns() - T0,
    Want = Calls * (Calls + 1) div 2,
    Sum =:= Want orelse error({sum, Sum, Want}),
    result("W2", El / Calls, "ns/call"),
    gen_server:stop(P).

calls(_P, 0, Acc) -> Acc;
calls(P, I, Acc) -> calls(P, I - 1, Acc + gen_server:call(P, {call, I - 1})).

%% ---- W3 / W4: casts, confirmed by a final call ----

cast_run(W, Senders, Each) ->
    Total = Senders * Each,
    {ok, P} = gen_server:start_link(?MODULE, server, []),
    0 = gen_server:call(P, count),
    Self = self(),
    Go = make_ref(),
    Ss = [spawn_link(fun() ->
                         receive Go -> ok end,
                         casts(P, Each),
                         Self ! {sent, self()}
                     end) || _ <- lists:seq(1, Senders)],
    T0 = now_ns(),
    [S ! Go || S <- Ss],
    [receive {sent, S} -> ok end || S <- Ss],
    Got = gen_server:call(P, count, infinity),
    El = now_ns() - T0,
    Got =:= Total orelse error({counted, Got, Total}),
    result(W, Total / (El / 1.0e9), "msgs/s"),
    gen_server:stop(P).

casts(_P, 0) -> ok;
casts(P, I) -> gen_server:cast(P, {cast, I}), casts(P, I - 1).

%% ---- W5: a ring of processes ----

w5() ->
    N = n(10000), Rounds = 100,
    Hops = N * Rounds,
    Self = self(),
    Pids = [spawn_link(fun() -> receive {next, Next} -> ring(Next, Self) end end)
            || _ <- lists:seq(1, N)],
    [First | Rest] = Pids,
    lists:foreach(fun({P, Next}) -> P ! {next, Next} end,
                  lists:zip(Pids, Rest ++ [First])),
    T0 = now_ns(),
    First ! {token, Hops}, % the token carries the hops left
    receive ring_done -> ok end,
    El = now_ns() - T0,
    result("W5", El / Hops, "ns/hop"),
    [begin unlink(P), exit(P, kill) end || P <- Pids],
    ok.

ring(Next, Main) ->
    receive
        {token, 0} -> Main ! ring_done, ring(Next, Main);
        {token, K} -> Next ! {token, K - 1}, ring(Next, Main)
    end.

%% ---- W6: a spawn_link chain; kill the first, monitor the last ----

w6() ->
    N = n(10000),
    Self = self(),
    First = spawn(fun() -> chain(N - 1, Self) end),
    Last = receive {last, L} -> L end,
    Ref = monitor(process, Last),
    T0 = now_ns(),
    exit(First, crash), % abnormal; nobody traps exits
    receive {'DOWN', Ref, process, Last, crash} -> ok end,
    El = now_ns() - T0,
    result("W6", El / N, "ns/proc").

chain(0, Main) ->
    Main ! {last, self()},
    receive after infinity -> ok end;
chain(K, Main) ->
    spawn_link(fun() -> chain(K - 1, Main) end),
    receive after infinity -> ok end.

%% ---- W7: supervisor one_for_one restarting a registered gen_server ----

w7() ->
    Restarts = n(1000),
    {ok, Sup} = supervisor:start_link(?MODULE, sup),
    T0 = now_ns(),
    Retries = restart_loop(Restarts, 0),
    El = now_ns() - T0,
    note("NOTE ~s W7 ~b failed calls over ~b restarts", [?SYSTEM, Retries, Restarts]),
    result("W7", El / 1000 / Restarts, "us/restart"),
    unlink(Sup),
    exit(Sup, shutdown).

restart_loop(0, Retries) -> Retries;
restart_loop(K, Retries) ->
    Old = whereis(?CHILD),
    exit(Old, crash), % abnormal exit
    restart_loop(K - 1, call_until_up(Old, Retries)).

call_until_up(Old, Retries) ->
    try gen_server:call(?CHILD, who) of
        Old -> error(answered_by_crashed_child);
        _New -> Retries
    catch exit:_ -> call_until_up(Old, Retries + 1)
    end.

%% ---- W8: 10,000 registered names, 2 processes × 1,000,000 whereis ----

w8() ->
    N = n(10000), Per = n(1000000), Workers = 2,
    Names = list_to_tuple([list_to_atom("bench_name_" ++ integer_to_list(I)) || I <- lists:seq(1, N)]),
    Holders = [begin
                   P = spawn_link(fun() -> receive stop -> ok end end),
                   true = register(element(I, Names), P),
                   P
               end || I <- lists:seq(1, N)],
    Self = self(),
    Go = make_ref(),
    Ws = [spawn_link(fun() ->
                         rand:seed(exsss, {W, 42, 7}),
                         Idx = [rand:uniform(N) || _ <- lists:seq(1, Per)], % pre-generated
                         Self ! {ready, self()},
                         receive Go -> ok end,
                         Self ! {found, self(), lookups(Idx, Names, 0)}
                     end) || W <- lists:seq(1, Workers)],
    [receive {ready, W} -> ok end || W <- Ws],
    T0 = now_ns(),
    [W ! Go || W <- Ws],
    Found = lists:sum([receive {found, W, F} -> F end || W <- Ws]),
    El = now_ns() - T0,
    Found =:= Workers * Per orelse error({found, Found, Workers * Per}),
    result("W8", El / (Workers * Per), "ns/lookup"),
    [P ! stop || P <- Holders],
    ok.

lookups([], _Names, Found) -> Found;
lookups([I | Is], Names, Found) ->
    case whereis(element(I, Names)) of
        undefined -> lookups(Is, Names, Found);
        _ -> lookups(Is, Names, Found + 1)
    end.
