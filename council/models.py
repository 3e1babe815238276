"""Every feature's models, imported in one place for Alembic and create_all."""

from council.accounts.models import Invitation, SealedState, ServerSession, User, UserRole  # noqa: F401
from council.audit.models import AuditEvent  # noqa: F401
from council.calendars.models import CalendarFeed  # noqa: F401
from council.commitments.models import (  # noqa: F401
    Commitment,
    CommitmentTranslation,
    CommitmentUpdate,
    CommitmentUpdateTranslation,
    PolicyReviewDate,
)
from council.compensation.models import (  # noqa: F401
    Approval,
    Attendance,
    Meeting,
    PayeeProfile,
    Payment,
    PaymentItem,
    PaymentPreference,
    PlannedMeeting,
    PlannedMeetingTranslation,
    ReviewCompletion,
    StipendEntry,
    StipendRate,
)
from council.digest.models import DigestSubscription, MailSettings  # noqa: F401
from council.feedback.models import Comment, CommentFlag, CommentTranslation, Response, ResponseTranslation  # noqa: F401
from council.mix.models import MixEnvelope  # noqa: F401
from council.policies.models import (  # noqa: F401
    EasyRead,
    GuidingQuestion,
    Policy,
    ReviewWindow,
    Revision,
    RevisionSection,
    RevisionTranslation,
    TranslationSection,
)
from council.summaries.models import FeedbackSummary, Paraphrase, RevisionOutcome, SummaryQuote  # noqa: F401
from council.surveys.models import (  # noqa: F401
    CheckinQuestion,
    CheckinQuestionTranslation,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from council.taking_part.models import RestMark  # noqa: F401
from council.voting.models import Ballot, BlockReason, Poll, PollOption, PollTranslation, VoterRoll  # noqa: F401
