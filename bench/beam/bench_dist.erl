%% Distribution workloads W9..W13 of BENCHMARKS.md on the BEAM (system
%% "beam"): nodes are separate OS processes on one machine, connected by
%% Erlang distribution over 127.0.0.1.
%% Run through run.sh:  bench/beam/run.sh W9   (QUICK=1 divides every N by 10)
%%
%% run.sh starts a private epmd and the measuring node A
%% (main([Workload, Placement])). A starts its peers (B, and C for W12)
%% through nodectl.sh behind a port, which also delivers kill -9 to a peer's
%% OS process and reports the wall-clock time of the kill. A peer
%% (peer([ANode])) connects to A, reports its node and OS pid, and halts when
%% A's node goes down, so that no peer outlives its A.
%%
%% Prints "RESULT beam <figure> <value> <unit>" on stdout, notes on stderr.
%% Figures: W9p50, W9p99 (us/call); W10s16, W10s256, W10s4096 (msgs/s), each
%% with the suffix "pinned" when A and its peers run pinned to one core
%% (run.sh measures both placements); W11 (ms); W12 (ns/lookup); W13 (ms).
-module(bench_dist).
-export([main/1, peer/1, register_names/1, hold_name/1]).

-define(SYSTEM, "beam").
-define(CTL, bench_dist_ctl).
-define(TIMEOUT, 60000).

%% ---- the measuring node A ----

main([W, Placement]) ->
    logger:set_primary_config(level, none), % logging off while measuring
    register(?CTL, self()),
    put(peers, []),
    Code = try
               Suffix = case Placement of
                            "pinned" -> "pinned";
                            "unpinned" -> "";
                            _ -> error({placement, Placement})
                        end,
               start_nodectl(),
               run(string:uppercase(W), Suffix),
               0
           catch C:R:St ->
               note("FAIL ~s ~s ~s: ~p:~p ~p", [?SYSTEM, W, Placement, C, R, St]),
               1
           end,
    stop_peers(),
    erlang:halt(Code);
main(_) ->
    note("usage: run.sh W9..W13 (QUICK=1 divides every N by 10)", []),
    erlang:halt(2).

run("W9", Suffix) -> w9(Suffix);
run("W10", Suffix) -> w10(Suffix);
run("W11", "") -> w11();
run("W12", "") -> w12();
run("W13", "") -> w13();
run(W, Suffix) -> error({unknown_workload, W, Suffix}).

%% ---- helpers ----

n(N) ->
    case quick() of
        true -> N div 10;
        false -> N
    end.

%% reps is the number of repetitions of a workload that kills a node.
reps() ->
    case quick() of
        true -> 5;
        false -> 20
    end.

quick() -> os:getenv("QUICK") =:= "1".

now_ns() -> erlang:monotonic_time(nanosecond).

result(Figure, V, Unit) ->
    Prec = case Unit of "msgs/s" -> 0; "ms" -> 2; _ -> 1 end,
    io:format("RESULT ~s ~s ~s ~s~n", [?SYSTEM, Figure, float_to_list(float(V), [{decimals, Prec}]), Unit]).

note(Fmt, Args) -> io:format(standard_error, Fmt ++ "~n", Args).

check(Want, Want) -> ok;
check(Want, Got) -> error({answered, Got, Want}).

repeat(0, _F) -> ok;
repeat(N, F) -> F(N), repeat(N - 1, F).

%% percentile is the nearest-rank percentile P of a sorted tuple.
percentile(Sorted, P) ->
    N = tuple_size(Sorted),
    element(max(1, min(N, ceil(P * N / 100))), Sorted).

median(Vs) ->
    S = list_to_tuple(lists:sort(Vs)),
    N = tuple_size(S),
    case N rem 2 of
        1 -> element(N div 2 + 1, S);
        0 -> (element(N div 2, S) + element(N div 2 + 1, S)) / 2
    end.

floats(Vs) ->
    lists:join(" ", [float_to_list(float(V), [{decimals, 2}]) || V <- Vs]).

%% ---- peers ----

start_nodectl() ->
    Script = case os:getenv("BENCH_NODECTL") of
                 false -> error({not_set, "BENCH_NODECTL"});
                 S -> S
             end,
    Erl = case os:getenv("BENCH_ERL") of
              false -> os:find_executable("erl");
              E -> E
          end,
    Erl =/= false orelse error(erl_not_found),
    Env = [{"BENCH_ERL", Erl},
           {"BENCH_A", atom_to_list(node())},
           {"BENCH_COOKIE", atom_to_list(erlang:get_cookie())},
           {"BENCH_PA", filename:dirname(code:which(?MODULE))}],
    Port = open_port({spawn_executable, "/bin/bash"},
                     [{args, [Script]}, {env, Env}, {line, 1024}, use_stdio]),
    put(nodectl, Port).

nodectl(Cmd, Arg) ->
    port_command(get(nodectl), [Cmd, " ", Arg, "\n"]).

%% nodectl_answer waits for the helper's next line, which must start with
%% Word, and returns the rest.
nodectl_answer(Word) ->
    Port = get(nodectl),
    receive
        {Port, {data, {eol, Line}}} ->
            case string:split(Line, " ") of
                [Word, Rest] -> Rest;
                _ -> error({nodectl_said, Line})
            end
    after ?TIMEOUT -> error({nodectl_silent, Word})
    end.

%% start_peer starts a node named Role_<A's name> and waits until it has
%% connected; it returns its node name and OS pid.
start_peer(Role) ->
    [AName, _Host] = string:split(atom_to_list(node()), "@"),
    nodectl("start", Role ++ "_" ++ AName),
    _ = nodectl_answer("started"),
    receive
        {peer_up, Node, OsPid} ->
            put(peers, [{Node, OsPid} | get(peers)]),
            {Node, OsPid}
    after ?TIMEOUT -> error({peer_not_up, Role})
    end.

%% kill_peer delivers kill -9 to a peer's OS process; kill_time then returns
%% the wall-clock time of the kill in microseconds.
kill_peer({Node, OsPid}) ->
    put(peers, lists:keydelete(Node, 1, get(peers))),
    nodectl("kill", OsPid).

kill_time() ->
    [S, U] = string:split(nodectl_answer("killed"), "."),
    length(U) =:= 6 orelse error({epochrealtime, S, U}),
    list_to_integer(S) * 1000000 + list_to_integer(U).

%% stop_peers halts every peer still up, and kills those that do not halt.
stop_peers() ->
    Peers = case get(peers) of undefined -> []; Ps -> Ps end,
    [begin
         erlang:monitor_node(Node, true),
         erpc:cast(Node, erlang, halt, [0])
     end || {Node, _} <- Peers],
    [receive {nodedown, Node} -> ok
     after 5000 ->
         note("NOTE ~s peer ~s did not halt; killing it", [?SYSTEM, Node]),
         catch nodectl("kill", OsPid),
         catch nodectl_answer("killed")
     end || {Node, OsPid} <- Peers],
    put(peers, []),
    case get(nodectl) of
        undefined -> ok;
        Port -> catch port_close(Port)
    end.

%% ---- a peer node ----

peer([A0]) ->
    logger:set_primary_config(level, none),
    A = list_to_atom(A0),
    OsPid = os:getpid(),
    case os:getenv("BENCH_PID_DIR") of
        false -> ok;
        Dir -> ok = file:write_file(filename:join(Dir, OsPid), atom_to_list(node()))
    end,
    case net_kernel:connect_node(A) of
        true -> ok;
        _ ->
            note("FAIL ~s peer ~s: cannot connect to ~s", [?SYSTEM, node(), A]),
            erlang:halt(3)
    end,
    erlang:monitor_node(A, true),
    {?CTL, A} ! {peer_up, node(), OsPid},
    receive {nodedown, A} -> erlang:halt(0) end.

%% ---- W9: remote gen_server:call round trips, each timed ----

w9(Suffix) ->
    Warm = n(1000), Calls = n(100000),
    {B, _} = start_peer("b"),
    {ok, Srv} = erpc:call(B, gen_server, start, [bench, server, []]),
    repeat(Warm, fun(I) -> check(I + 1, gen_server:call(Srv, {call, I})) end),
    Ts = list_to_tuple(lists:sort(timed_calls(Srv, Calls, []))),
    result("W9p50" ++ Suffix, percentile(Ts, 50) / 1000, "us/call"),
    result("W9p99" ++ Suffix, percentile(Ts, 99) / 1000, "us/call"),
    gen_server:stop(Srv).

timed_calls(_Srv, 0, Acc) -> Acc;
timed_calls(Srv, I, Acc) ->
    T0 = now_ns(),
    V = gen_server:call(Srv, {call, I}),
    T1 = now_ns(),
    check(I + 1, V),
    timed_calls(Srv, I - 1, [T1 - T0 | Acc]).

%% ---- W10: remote casts of 16, 256 and 4096 bytes, confirmed by a call ----

w10(Suffix) ->
    {B, _} = start_peer("b"),
    [cast_run(B, Size, n(Count), Suffix)
     || {Size, Count} <- [{16, 1000000}, {256, 200000}, {4096, 50000}]],
    ok.

cast_run(B, Size, Count, Suffix) ->
    {ok, Srv} = erpc:call(B, gen_server, start, [bench, server, []]),
    0 = gen_server:call(Srv, count),
    Msg = {cast, binary:copy(<<"x">>, Size)},
    T0 = now_ns(),
    casts(Srv, Msg, Count),
    Got = gen_server:call(Srv, count, infinity),
    El = now_ns() - T0,
    Got =:= Count orelse error({counted, Got, Count}),
    result("W10s" ++ integer_to_list(Size) ++ Suffix, Count / (El / 1.0e9), "msgs/s"),
    gen_server:stop(Srv).

casts(_Srv, _Msg, 0) -> ok;
casts(Srv, Msg, I) -> gen_server:cast(Srv, Msg), casts(Srv, Msg, I - 1).

%% ---- W11: kill -9 of B's OS process to the Down at A's monitor ----

w11() ->
    Ms = [node_loss(K) || K <- lists:seq(1, reps())],
    note("NOTE ~s W11 ms per repetition: ~s", [?SYSTEM, floats(Ms)]),
    result("W11", median(Ms), "ms").

node_loss(K) ->
    {B, _} = Peer = start_peer("b" ++ integer_to_list(K)),
    P = erpc:call(B, erlang, spawn, [timer, sleep, [infinity]]),
    Ref = erlang:monitor(process, P),
    kill_peer(Peer),
    Reason = receive {'DOWN', Ref, process, P, R} -> R
             after ?TIMEOUT -> error(no_down)
             end,
    T1 = os:system_time(microsecond),
    Reason =:= noconnection orelse error({down_reason, Reason}),
    (T1 - kill_time()) / 1000.

%% ---- W12: global:whereis_name over names registered from three nodes ----

w12() ->
    N = n(10000), Per = n(1000000), Workers = 2,
    {B, _} = start_peer("b"),
    {C, _} = start_peer("c"),
    true = erpc:call(B, net_kernel, connect_node, [C]),
    [ok = erpc:call(Node, global, sync, []) || Node <- [node(), B, C]],
    Names = list_to_tuple([list_to_atom("bench_gname_" ++ integer_to_list(I)) || I <- lists:seq(1, N)]),
    Part = fun(J) -> [element(I, Names) || I <- lists:seq(1, N), I rem 3 =:= J] end,
    %% the three nodes register their thirds at the same time
    T0 = now_ns(),
    Reqs = [erpc:send_request(Node, ?MODULE, register_names, [Part(J)])
            || {Node, J} <- [{node(), 0}, {B, 1}, {C, 2}]],
    [ok = erpc:receive_response(R, infinity) || R <- Reqs],
    note("NOTE ~s W12 ~b global names registered from 3 nodes in ~b ms",
         [?SYSTEM, N, (now_ns() - T0) div 1000000]),
    Missing = [I || I <- lists:seq(1, N), global:whereis_name(element(I, Names)) =:= undefined],
    Missing =:= [] orelse error({names_not_seen_on_a, length(Missing)}),
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
    T1 = now_ns(),
    [W ! Go || W <- Ws],
    Found = lists:sum([receive {found, W, F} -> F end || W <- Ws]),
    El = now_ns() - T1,
    Found =:= Workers * Per orelse error({found, Found, Workers * Per}),
    result("W12", El / (Workers * Per), "ns/lookup").

%% register_names registers each name globally for a new idle process of
%% this node.
register_names(Names) ->
    [begin
         P = spawn(fun() -> receive stop -> ok end end),
         yes = global:register_name(Name, P)
     end || Name <- Names],
    ok.

lookups([], _Names, Found) -> Found;
lookups([I | Is], Names, Found) ->
    case global:whereis_name(element(I, Names)) of
        undefined -> lookups(Is, Names, Found);
        _ -> lookups(Is, Names, Found + 1)
    end.

%% ---- W13: B's global name taken over by A once B is killed ----

w13() ->
    {Ms, Tries} = lists:unzip([takeover(K) || K <- lists:seq(1, reps())]),
    note("NOTE ~s W13 ms per repetition: ~s (registration tries: ~w)", [?SYSTEM, floats(Ms), Tries]),
    result("W13", median(Ms), "ms").

takeover(K) ->
    Name = bench_takeover,
    {B, _} = Peer = start_peer("b" ++ integer_to_list(K)),
    [ok = erpc:call(Node, global, sync, []) || Node <- [node(), B]],
    Holder = erpc:call(B, ?MODULE, hold_name, [Name]),
    Holder = global:whereis_name(Name),
    kill_peer(Peer),
    %% A retries the registration from the moment of the kill: global
    %% answers no until it has seen B's node go down and dropped its names.
    Tries = register_until_yes(Name, 1),
    T1 = os:system_time(microsecond),
    Ms = (T1 - kill_time()) / 1000,
    Self = self(),
    Self = global:whereis_name(Name),
    global:unregister_name(Name),
    {Ms, Tries}.

%% hold_name registers Name globally for a new idle process of this node.
hold_name(Name) ->
    P = spawn(fun() -> receive stop -> ok end end),
    yes = global:register_name(Name, P),
    P.

register_until_yes(Name, Tries) ->
    case global:register_name(Name, self()) of
        yes -> Tries;
        no -> register_until_yes(Name, Tries + 1)
    end.
