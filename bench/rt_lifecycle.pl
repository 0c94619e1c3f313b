#!/usr/bin/perl
# Request Tracker 5 side of the lifecycle benchmark (bench/rt.py runs it).
#
# Runs with RT's own library path (perl -I/usr/share/request-tracker5/lib) and
# RT_SITE_CONFIG / RT_SITE_CONFIG_DIR naming the benchmark's own site config
# (an SQLite database in the scratch folder, $MailCommand 'testfile').
#
#   rt_lifecycle.pl setup mail-on|mail-off
#       once, on a database `rt-setup-database --action init` made: the agent,
#       the requestor, the "Confirmed via" custom field, the agent's rights;
#       mail-off disables every scrip whose action sends mail (its module
#       Notify*, Autoreply*, SendEmail* or SendForward*), as "RT with its mail scrips off".
#   rt_lifecycle.pl serve
#       reads JSON lines from stdin, {"texts": [[subject, description], ...]},
#       runs one lifecycle per pair one after another, and answers each line
#       with one JSON line {"n": N, "seconds": S, "cpu_seconds": C, "last": ticket id}
#       (S: wall clock around the lifecycles; C: this process's user + system CPU).
#
# One lifecycle, as RT does it by default (AutoCommit; RT's own transactions),
# acting as the agent, mirrors bench/lifecycle.py and bench/desksize.py:
#   intake   Ticket->Create(Queue, Subject, MIMEObj = the description, Requestor)
#   assign   SetOwner(agent)
#   start    SetStatus('open')
#   resolve  Comment(the solution) + SetStatus('resolved')
#   confirm  AddCustomFieldValue('Confirmed via' = 'phone')  (RT's default
#            lifecycle ends at 'resolved'; a custom field is the nearest
#            equivalent of itsm's desk confirmation after it)
use strict;
use warnings;
use utf8;

use Encode qw(encode);
use JSON::PP ();
use MIME::Entity;
use Time::HiRes qw(time);

use RT;
RT::LoadConfig();
RT::Init();

my $QUEUE = 'General';
my $AGENT = 'bench.agent';
my $REQUESTOR = 'bench.reporter@example.com';
my $CF = 'Confirmed via';
my $SOLUTION = 'Replaced the cable';
my @RIGHTS = qw(SeeQueue CreateTicket ShowTicket OwnTicket ModifyTicket CommentOnTicket ReplyToTicket
                SeeCustomField ModifyCustomField SetInitialCustomField ShowTicketComments Watch);

sub check {
    my ($what, $ok, $msg) = @_;
    die "$what: " . ($msg // 'failed') . "\n" unless $ok;
    return $ok;
}

sub setup {
    my ($mode) = @_;
    die "usage: rt_lifecycle.pl setup mail-on|mail-off\n" unless $mode && $mode =~ /^mail-(on|off)$/;
    my $system = RT->SystemUser;
    my $queue = RT::Queue->new($system);
    check("queue $QUEUE", $queue->Load($QUEUE));

    my $agent = RT::User->new($system);
    check("user $AGENT", $agent->Create(Name => $AGENT, EmailAddress => 'bench.agent@example.com',
                                        RealName => 'Bench Agent', Privileged => 1));
    for my $right (@RIGHTS) {
        check("right $right", $agent->PrincipalObj->GrantRight(Right => $right, Object => $RT::System));
    }
    my $requestor = RT::User->new($system);
    check("requestor", $requestor->Create(Name => $REQUESTOR, EmailAddress => $REQUESTOR, Privileged => 0));

    my $cf = RT::CustomField->new($system);
    check("custom field", $cf->Create(Name => $CF, Type => 'Freeform', MaxValues => 1,
                                      LookupType => 'RT::Queue-RT::Ticket'));
    check("custom field on queue", $cf->AddToObject($queue));

    my $disabled = 0;
    if ($mode eq 'mail-off') {
        my $scrips = RT::Scrips->new($system);
        $scrips->UnLimit;
        while (my $scrip = $scrips->Next) {
            next unless $scrip->ActionObj->ExecModule =~ /^(Notify|Autoreply|SendEmail|SendForward)/;
            check("disable scrip " . $scrip->id, $scrip->SetDisabled(1));
            $disabled++;
        }
    }
    my $scrips = RT::Scrips->new($system);
    $scrips->UnLimit;
    my $enabled = 0;
    while (my $scrip = $scrips->Next) { $enabled++ unless $scrip->Disabled }
    print JSON::PP->new->canonical->encode({mode => $mode, scrips_disabled => $disabled,
                                            scrips_enabled => $enabled, rt => $RT::VERSION}), "\n";
}

sub lifecycle {
    my ($cu, $agent_id, $subject, $description) = @_;
    my $mime = MIME::Entity->build(Type => 'text/plain', Charset => 'UTF-8', Encoding => 'quoted-printable',
                                   Data => [encode('UTF-8', $description)]);
    my $ticket = RT::Ticket->new($cu);
    my ($id, undef, $msg) = $ticket->Create(Queue => $QUEUE, Subject => $subject, MIMEObj => $mime,
                                            Requestor => [$REQUESTOR]);
    check("create", $id, $msg);
    check("assign", $ticket->SetOwner($agent_id));
    check("start", $ticket->SetStatus('open'));
    my $solution = MIME::Entity->build(Type => 'text/plain', Charset => 'UTF-8', Data => [$SOLUTION]);
    check("comment", $ticket->Comment(MIMEObj => $solution));
    check("resolve", $ticket->SetStatus('resolved'));
    check("confirm", $ticket->AddCustomFieldValue(Field => $CF, Value => 'phone'));
    return $id;
}

sub serve {
    my $agent = RT::User->new(RT->SystemUser);
    check("user $AGENT", $agent->Load($AGENT));
    my $cu = RT::CurrentUser->new($agent);
    my $json = JSON::PP->new->utf8->canonical;
    binmode STDOUT;
    $| = 1;
    while (my $line = <STDIN>) {
        my $req = $json->decode($line);
        my $last = 0;
        my ($u0, $s0) = times;
        my $t0 = time;
        for my $pair (@{$req->{texts}}) {
            $last = lifecycle($cu, $agent->id, @$pair);
        }
        my $seconds = time - $t0;
        my ($u1, $s1) = times;
        print $json->encode({n => scalar @{$req->{texts}}, seconds => $seconds, cpu_seconds => $u1 - $u0 + $s1 - $s0,
                             last => $last}), "\n";
    }
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'setup') { setup(@ARGV) }
elsif ($cmd eq 'serve') { serve() }
else { die "usage: rt_lifecycle.pl setup mail-on|mail-off | serve\n" }
