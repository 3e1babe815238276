"""The demo policy: original text on a survivor-centred topic, in two revisions and a translation."""

from typing import Any

from council.feedback.models import Disposition, HideReason, QuoteConsent
from council.voting.models import ConsentChoice, PollKind

POLICY_TITLE = "First contact and referrals"

REVISION_1 = """\
This policy explains how we meet people for the first time and how we refer them to other services.

## Purpose

We want every first contact to feel safe, calm and respectful. This policy sets out what staff do,
and what people can expect from us, from the first conversation to a referral elsewhere.

## Who this policy covers

It covers every member of staff and every volunteer who answers the phone, replies to messages or
meets someone in person. It also covers partner organisations when they act for us.

## Our principles

- Safety comes first, including emotional safety.
- People decide what they share and when.
- We explain what we do and why, in plain words.
- We never make help depend on telling a full story.

## Consent and choice

We ask before we write anything down. People can say no to any question. They can change their
mind later, and we will remove what they asked us to remove unless the law requires us to keep it.

## Language and interpreters

People can speak in the language they prefer. We book a professional interpreter, never a family
member or a friend, and we ask whether the person prefers a woman or a man.

## What we write down

We record only what is needed to help. Records are kept on our own systems, never on personal
phones. People can ask to see what we hold about them.

## Describing what happened

Some people want to tell us about violence, threats or abuse they lived through. Staff listen
without pushing for detail. They do not ask for the same account twice, and they offer a break
at any time.

## Referrals to other services

Before we refer someone, we explain what the other service does and what we will tell them. We
share only what the person agrees to share.

## Complaints and feedback

Anyone can complain or give feedback, anonymously if they wish. We answer within ten working days.

## Reviewing this policy

The survivor advisory council reviews this policy every year, and whenever it changes.
"""

REVISION_1_CHANGE_NOTES = "First draft for review by the advisory council."

REVISION_2 = (
    REVISION_1.replace(
        "We ask before we write anything down. People can say no to any question.",
        "We ask before we write anything down, and we say who will read it. People can say no to any question.",
    )
    .replace(
        "We answer within ten working days.",
        "We answer within ten working days, in the person's own language.",
    )
    .replace(
        "unless the law requires us to keep it.",
        "unless the law requires us to keep it. Nobody has to give a reason for asking.",
    )
    .replace(
        "and we ask whether the person prefers a woman or a man.",
        "and we ask whether the person prefers a woman or a man. We ask before booking whether the interpreter "
        "may know the person or their community.",
    )
    .replace(
        "## Reviewing this policy\n\nThe survivor advisory council reviews this policy every year, "
        "and whenever it changes.",
        "## Reviewing this policy\n\nThe survivor advisory council reviews this policy every year, and whenever it "
        "changes. Council members are paid for this work.",
    )
)

REVISION_2_CHANGE_NOTES = (
    "Consent now says who will read the notes; people can ask us to delete their records without a reason; "
    "interpreters who may know the person are avoided; complaints are answered in the person's own language; "
    "council members are paid for reviews."
)

#: Section position (0 is the opening paragraph) -> notes and guiding questions an author adds.
SECTION_NOTES: dict[int, dict[str, Any]] = {
    1: {"summary": "Why this policy exists: every first contact should feel safe and respectful."},
    4: {
        "summary": "You choose what is written down, and you can change your mind.",
        "questions": ["Is it clear what you can say no to?", "What would make asking for consent feel less formal?"],
    },
    5: {"questions": ["Should people be able to choose their interpreter's gender?"]},
    7: {
        "summary": "Staff listen without pushing for detail, and offer breaks.",
        "content_note": "Mentions violence, threats and abuse in general terms.",
    },
}

REVISION_1_SPANISH_TITLE = "Primer contacto y derivaciones"

REVISION_1_SPANISH = """\
Esta política explica cómo conocemos a las personas por primera vez y cómo las derivamos a otros servicios.

## Propósito

Queremos que cada primer contacto se sienta seguro, tranquilo y respetuoso. Esta política describe lo
que hace el personal, y lo que las personas pueden esperar de nosotros, desde la primera conversación
hasta una derivación a otro lugar.

## A quién se aplica esta política

Se aplica a todo el personal y a todas las personas voluntarias que atienden el teléfono, responden
mensajes o se reúnen con alguien en persona. También se aplica a las organizaciones asociadas cuando
actúan en nuestro nombre.

## Nuestros principios

- La seguridad es lo primero, también la seguridad emocional.
- Las personas deciden qué cuentan y cuándo.
- Explicamos lo que hacemos y por qué, con palabras sencillas.
- Nunca condicionamos la ayuda a que se cuente toda la historia.

## Consentimiento y elección

Preguntamos antes de anotar cualquier cosa. Las personas pueden negarse a responder cualquier
pregunta. Pueden cambiar de opinión más tarde, y borraremos lo que nos pidan borrar salvo que la ley
nos obligue a conservarlo.

## Idioma e intérpretes

Las personas pueden hablar en el idioma que prefieran. Reservamos un intérprete profesional, nunca un
familiar ni una amistad, y preguntamos si la persona prefiere a una mujer o a un hombre.

## Lo que anotamos

Anotamos solo lo necesario para ayudar. Los registros se guardan en nuestros propios sistemas, nunca
en teléfonos personales. Las personas pueden pedir ver lo que tenemos sobre ellas.

## Contar lo que pasó

Algunas personas quieren contarnos la violencia, las amenazas o el abuso que vivieron. El personal
escucha sin presionar para obtener detalles. No pide el mismo relato dos veces y ofrece una pausa en
cualquier momento.

## Derivaciones a otros servicios

Antes de derivar a alguien, explicamos qué hace el otro servicio y qué le vamos a contar. Solo
compartimos lo que la persona acepta compartir.

## Quejas y opiniones

Cualquier persona puede presentar una queja u opinar, de forma anónima si lo desea. Respondemos en un
plazo de diez días hábiles.

## Revisión de esta política

El consejo asesor de personas sobrevivientes revisa esta política cada año y cada vez que cambia.
"""

#: Demo comments on revision 1, whose review has closed: (advisor login, section position, language, consent, text).
COMMENTS = [
    ("advisor1", 4, "en", QuoteConsent.VERBATIM, "Please say who will read the notes before I agree to anything."),
    (
        "advisor2",
        4,
        "es",
        QuoteConsent.PARAPHRASE,
        "Me gustaría poder pedir que borren mis datos sin dar explicaciones.",
    ),
    ("advisor3", 5, "fr", QuoteConsent.VERBATIM, "Une interprète femme, c'est important pour beaucoup d'entre nous."),
    ("advisor4", 5, "ar", QuoteConsent.PARAPHRASE, "أحتاج إلى مترجم لا يعرف أحداً من مجتمعي."),
    (
        "advisor5",
        8,
        "en",
        QuoteConsent.AUTHOR_ONLY,
        "A referral once cost me my place in a shelter. Please ask first, every time.",
    ),
    ("advisor6", 9, "en", QuoteConsent.VERBATIM, "Ten days is a long time to wait when you are scared."),
    ("advisor2", 7, "en", QuoteConsent.VERBATIM, "Whoever wrote the section above is clearly careless."),
]

#: Comments of revision 1 that point at words of their section and propose new ones: comment index -> (the
#: words, as they stand in the section, and the wording proposed). The first was adopted as proposed (revision 2
#: reads so), the second, for the authors only, was not adopted, the third partly.
PROPOSALS = {
    0: ("We ask before we write anything down.", "We ask before we write anything down, and we say who will read it."),
    4: (
        "we explain what the other service does",
        "we ask the person first, every time, and explain what the other service does",
    ),
    5: ("We answer within ten working days.", "We answer within five working days."),
}

#: Answers by the author to every visible comment of revision 1: comment index -> (disposition, text).
RESPONSES = {
    0: (Disposition.ADOPTED, "Thank you. Revision 2 now says who will read the notes."),
    1: (
        Disposition.ADOPTED,
        "Revision 2 says that anyone may ask us to delete their records, without giving a reason.",
    ),
    2: (Disposition.PARTLY_ADOPTED, "We will ask about preferences; we cannot always guarantee a woman interpreter."),
    3: (Disposition.ADOPTED, "We now ask before booking an interpreter whether they may know the person."),
    4: (Disposition.NOT_ADOPTED, "We already ask before every referral; we will check that staff do so."),
    5: (
        Disposition.PARTLY_ADOPTED,
        "Complaints are now answered in the person's own language. We will discuss a shorter "
        "answer time at the next meeting.",
    ),
}

#: The answer to the reason an advisor gave for blocking the consent poll.
BLOCK_REASON_RESPONSE = "Revision 2 says who will read the notes, and that people can ask us to remove them."

#: The author's paraphrases of comments whose writers allowed paraphrase only: comment index -> text.
PARAPHRASES = {
    1: "An advisor asked to be able to have their records deleted without having to explain why.",
    3: "An advisor asked for interpreters who do not know anyone in their community.",
}

#: Demo comments on revision 2, whose review is open; none answered yet.
OPEN_ROUND_COMMENTS = [
    ("advisor1", 9, "en", QuoteConsent.VERBATIM, "Thank you for answering in our own language. Please keep it."),
    ("advisor4", 4, "ar", QuoteConsent.VERBATIM, "شكراً لأنكم تقولون الآن من سيقرأ الملاحظات."),
    (
        "advisor3",
        5,
        "fr",
        QuoteConsent.PARAPHRASE,
        "Merci. Pouvez-vous aussi dire combien de temps vous gardez les notes ?",
    ),
    (
        "advisor1",
        5,
        "en",
        QuoteConsent.AUTHOR_ONLY,
        "The interpreter at the east office, Maria, told my neighbour about my case.",
    ),
    (
        "advisor6",
        5,
        "en",
        QuoteConsent.VERBATIM,
        "Asking is not enough. Someone from my community should never interpret for me.",
    ),
]

#: Open-round comments that propose new wording (index in OPEN_ROUND_COMMENTS): the words and the wording.
OPEN_ROUND_PROPOSALS = {
    4: (
        "We ask before booking whether the interpreter may know the person or their community.",
        "We never book an interpreter who may know the person or their community.",
    ),
}

#: An open-round comment a moderator hid (index in OPEN_ROUND_COMMENTS), with the reason.
HIDDEN_OPEN_ROUND = {
    3: (
        HideReason.IDENTIFYING,
        "This names a person. Please tell us what happened without names, so that nobody can be identified.",
    )
}

#: A comment the moderator hides, with the reason.
HIDDEN = {6: (HideReason.ABUSIVE, "Please discuss the text, not the people who wrote it.")}

#: The answers to the Spanish, French and Arabic comments of the first round, in each comment's language, so
#: their writers read them in it. Draft translations, to be reviewed by native speakers like the catalogs.
RESPONSES_TRANSLATED = {
    1: "La revisión 2 dice que cualquier persona puede pedirnos que borremos sus datos, sin dar ninguna razón.",
    2: "Nous demanderons vos préférences\u00a0; nous ne pouvons pas toujours garantir une interprète femme.",
    3: "نسأل الآن قبل حجز مترجم ما إذا كان قد يعرف الشخص.",
}

#: The planned meeting's title and place in Spanish, French and Arabic (draft translations, to be reviewed).
PLANNED_MEETING_TRANSLATED = {
    "es": ("Reunión del consejo", "La sala comunitaria, o por teléfono"),
    "fr": ("Réunion du conseil", "La salle commune, ou par téléphone"),
    "ar": ("اجتماع المجلس", "القاعة المجتمعية، أو عبر الهاتف"),
}

#: Demo polls on revision 2: one open and one closed of each kind. "votes" go to advisor1, advisor2, …
POLLS: list[dict[str, Any]] = [
    {
        "question": "Do you consent to the new paragraph on consent?",
        "kind": PollKind.CONSENT,
        "section": 4,
        "votes": [
            ConsentChoice.AGREE,
            ConsentChoice.AGREE,
            ConsentChoice.ABSTAIN,
            ConsentChoice.AGREE,
            ConsentChoice.BLOCK,
        ],
        "closed": True,
        "block_reason": "It still does not say who reads the notes later.",
    },
    {
        "question": "Which answer time for complaints is right?",
        "kind": PollKind.CHOICE,
        "options": ["Five working days", "Ten working days", "Fifteen working days"],
        "votes": ["0", "0", "1", "0"],
        "closed": True,
    },
    {
        "question": "How clear is the section on interpreters?",
        "kind": PollKind.SCORE,
        "section": 5,
        "score_min": 1,
        "score_max": 5,
        "votes": ["4", "5", "3", "4"],
        "closed": True,
    },
    {
        "question": "Do you consent to the section on referrals?",
        "kind": PollKind.CONSENT,
        "section": 8,
        "votes": [ConsentChoice.AGREE],
        "closed": False,
    },
    {
        "question": "Where should meetings take place?",
        "kind": PollKind.CHOICE,
        "options": ["Online", "At the office", "Somewhere neutral"],
        "votes": ["2", "0"],
        "closed": False,
    },
    {
        "question": "How safe does the complaints section feel?",
        "kind": PollKind.SCORE,
        "section": 9,
        "score_min": 1,
        "score_max": 5,
        "votes": [],
        "closed": False,
    },
]

#: Each demo poll (by its English question) in Spanish, French and Arabic: the question, and a choice poll's
#: options in the same order. Draft translations, to be reviewed by native speakers like the catalogs.
POLLS_TRANSLATED: dict[str, dict[str, dict[str, Any]]] = {
    "Do you consent to the new paragraph on consent?": {
        "es": {"question": "¿Das tu consentimiento al nuevo párrafo sobre el consentimiento?"},
        "fr": {"question": "Donnez-vous votre consentement au nouveau paragraphe sur le consentement\u00a0?"},
        "ar": {"question": "هل توافق على الفقرة الجديدة عن الموافقة؟"},
    },
    "Which answer time for complaints is right?": {
        "es": {
            "question": "¿Qué plazo de respuesta a las quejas es el adecuado?",
            "options": ["Cinco días laborables", "Diez días laborables", "Quince días laborables"],
        },
        "fr": {
            "question": "Quel délai de réponse aux plaintes est le bon\u00a0?",
            "options": ["Cinq jours ouvrables", "Dix jours ouvrables", "Quinze jours ouvrables"],
        },
        "ar": {
            "question": "ما المدة المناسبة للرد على الشكاوى؟",
            "options": ["خمسة أيام عمل", "عشرة أيام عمل", "خمسة عشر يوم عمل"],
        },
    },
    "How clear is the section on interpreters?": {
        "es": {"question": "¿Qué tan clara es la sección sobre intérpretes?"},
        "fr": {"question": "La section sur les interprètes est-elle claire\u00a0?"},
        "ar": {"question": "ما مدى وضوح القسم الخاص بالمترجمين الفوريين؟"},
    },
    "Do you consent to the section on referrals?": {
        "es": {"question": "¿Das tu consentimiento a la sección sobre derivaciones?"},
        "fr": {"question": "Donnez-vous votre consentement à la section sur les orientations\u00a0?"},
        "ar": {"question": "هل توافق على القسم الخاص بالإحالات؟"},
    },
    "Where should meetings take place?": {
        "es": {
            "question": "¿Dónde deberían celebrarse las reuniones?",
            "options": ["En línea", "En la oficina", "En un lugar neutral"],
        },
        "fr": {
            "question": "Où les réunions devraient-elles avoir lieu\u00a0?",
            "options": ["En ligne", "Au bureau", "Dans un lieu neutre"],
        },
        "ar": {
            "question": "أين يجب أن تُعقد الاجتماعات؟",
            "options": ["عبر الإنترنت", "في المكتب", "في مكان محايد"],
        },
    },
    "How safe does the complaints section feel?": {
        "es": {"question": "¿Qué tan segura te parece la sección de quejas?"},
        "fr": {"question": "La section sur les plaintes vous semble-t-elle sûre\u00a0?"},
        "ar": {"question": "إلى أي حد تشعر بالأمان في قسم الشكاوى؟"},
    },
}

#: A second, shorter policy whose first review has closed: its summary waits for the author's next draft.
SECOND_POLICY_TITLE = "Meetings and travel costs"
SECOND_POLICY = """\
We want every advisor to be able to come to meetings without paying anything themselves.

## Travel

We pay for travel to and from every meeting, in advance if you ask.

## Childcare

We pay for childcare during meetings, or you may bring your children to a quiet room next door.
"""
SECOND_POLICY_DRAFT = SECOND_POLICY.replace("in advance if you ask.", "in advance if you ask, in cash or by transfer.")
#: Comments on the second policy's first revision: (advisor login, section position, language, consent, text).
SECOND_POLICY_COMMENTS = [
    ("advisor1", 1, "en", QuoteConsent.VERBATIM, "Paying in advance matters: many of us cannot wait for a refund."),
    (
        "advisor3",
        1,
        "fr",
        QuoteConsent.VERBATIM,
        "Le remboursement en espèces est plus sûr pour certaines d'entre nous.",
    ),
    ("advisor5", 2, "en", QuoteConsent.PARAPHRASE, "A quiet room next door would let me come at all."),
]
SECOND_POLICY_RESPONSES = {
    0: (Disposition.ADOPTED, "We pay in advance whenever you ask, with no forms to fill in first."),
    1: (Disposition.ADOPTED, "The next revision says you may choose cash or a transfer."),
}

#: An open-round comment an advisor flagged for moderators (index in OPEN_ROUND_COMMENTS), the reason they
#: chose and their note.
FLAGGED_OPEN_ROUND_COMMENT = 2
FLAGGED_OPEN_ROUND_REASON = (HideReason.OFF_TOPIC, "I think keeping notes belongs in the records policy.")

#: Open-round comments other advisors said "I agree" with (index in OPEN_ROUND_COMMENTS): who agreed. The
#: first has enough agreements for the count to show; the second too few, so only its agreer sees theirs; the
#: proposal has many.
AGREED_OPEN_ROUND = {
    0: ["advisor2", "advisor3", "advisor4", "advisor5"],
    1: ["advisor1"],
    4: ["advisor1", "advisor2", "advisor3", "advisor4", "advisor5"],
}

REVISION_2_SPANISH = (
    REVISION_1_SPANISH.replace(
        "Preguntamos antes de anotar cualquier cosa. Las personas pueden negarse a responder cualquier\npregunta.",
        "Preguntamos antes de anotar cualquier cosa, y decimos quién lo va a leer. Las personas pueden negarse a\n"
        "responder cualquier pregunta.",
    )
    .replace(
        "nos obligue a conservarlo.",
        "nos obligue a conservarlo. Nadie tiene que dar una razón para pedirlo.",
    )
    .replace(
        "y preguntamos si la persona prefiere a una mujer o a un hombre.",
        "y preguntamos si la persona prefiere a una mujer o a un hombre. Antes de reservar, preguntamos si el\n"
        "intérprete puede conocer a la persona o a su comunidad.",
    )
    .replace(
        "Respondemos en un\nplazo de diez días hábiles.",
        "Respondemos en un\nplazo de diez días hábiles, en el idioma de la persona.",
    )
    .replace(
        "revisa esta política cada año y cada vez que cambia.",
        "revisa esta política cada año y cada vez que cambia. Las personas del consejo reciben una\n"
        "remuneración por este trabajo.",
    )
)

REVISION_2_FRENCH = """\
Cette politique explique comment nous rencontrons les personnes pour la première fois et comment nous les
orientons vers d'autres services.

## Objet

Nous voulons que chaque premier contact soit sûr, calme et respectueux. Cette politique décrit ce que fait
l'équipe, et ce que les personnes peuvent attendre de nous, de la première conversation à une orientation ailleurs.

## Qui est concerné

Elle concerne chaque membre de l'équipe et chaque bénévole qui répond au téléphone, aux messages ou rencontre
quelqu'un en personne. Elle concerne aussi les organisations partenaires quand elles agissent pour nous.

## Nos principes

- La sécurité d'abord, y compris la sécurité émotionnelle.
- Chaque personne décide de ce qu'elle raconte, et quand.
- Nous expliquons ce que nous faisons et pourquoi, avec des mots simples.
- Notre aide ne dépend jamais d'un récit complet.

## Consentement et choix

Nous demandons avant de noter quoi que ce soit, et nous disons qui le lira. Chacun peut refuser de répondre à
n'importe quelle question, changer d'avis plus tard, et nous effacerons ce qu'on nous demande d'effacer, sauf si
la loi nous oblige à le garder. Personne n'a à justifier sa demande.

## Langue et interprètes

Chacun peut parler la langue qu'il préfère. Nous réservons un interprète professionnel, jamais un proche, et nous
demandons si la personne préfère une femme ou un homme. Avant de réserver, nous demandons si l'interprète peut
connaître la personne ou sa communauté.

## Ce que nous notons

Nous notons seulement ce qui est utile pour aider. Les dossiers restent sur nos propres systèmes, jamais sur des
téléphones personnels. Chacun peut demander à voir ce que nous avons à son sujet.

## Raconter ce qui s'est passé

Certaines personnes veulent nous parler des violences, des menaces ou des abus qu'elles ont vécus. L'équipe
écoute sans pousser à donner des détails. Elle ne demande pas deux fois le même récit et propose une pause à tout
moment.

## Orientation vers d'autres services

Avant d'orienter quelqu'un, nous expliquons ce que fait l'autre service et ce que nous allons lui dire. Nous ne
partageons que ce que la personne accepte de partager.

## Plaintes et avis

Chacun peut se plaindre ou donner son avis, anonymement s'il le souhaite. Nous répondons sous dix jours ouvrés,
dans la langue de la personne.

## Révision de cette politique

Le conseil consultatif de personnes survivantes révise cette politique chaque année, et à chaque changement. Les
membres du conseil sont rémunérés pour ce travail.
"""

REVISION_2_ARABIC = """\
تشرح هذه السياسة كيف نلتقي بالأشخاص أول مرة وكيف نحيلهم إلى خدمات أخرى.

## الغرض

نريد أن يكون كل لقاء أول آمنًا وهادئًا ومحترمًا. تبيّن هذه السياسة ما يفعله الفريق، وما يمكن للناس أن ينتظروه منا،
من المحادثة الأولى حتى الإحالة إلى جهة أخرى.

## من تشمله هذه السياسة

تشمل كل أعضاء الفريق وكل المتطوعين الذين يجيبون على الهاتف أو يردّون على الرسائل أو يلتقون بأحد وجهًا لوجه.
وتشمل أيضًا المنظمات الشريكة حين تعمل باسمنا.

## مبادئنا

- السلامة أولًا، بما فيها السلامة النفسية.
- يقرّر كل شخص ما يرويه ومتى.
- نشرح ما نفعله ولماذا، بكلمات بسيطة.
- لا نربط المساعدة أبدًا برواية القصة كاملة.

## الموافقة والاختيار

نسأل قبل أن نكتب أي شيء، ونقول من سيقرؤه. يمكن لأي شخص أن يرفض الإجابة عن أي سؤال، وأن يغيّر رأيه لاحقًا،
وسنحذف ما يُطلب منا حذفه إلا إذا ألزمنا القانون بالاحتفاظ به. لا يحتاج أحد إلى ذكر سبب لطلبه.

## اللغة والمترجمون

يمكن لكل شخص أن يتحدث باللغة التي يفضّلها. نحجز مترجمًا محترفًا، لا أحد الأقارب أو الأصدقاء أبدًا، ونسأل إن كان
الشخص يفضّل امرأة أو رجلًا. وقبل الحجز نسأل إن كان المترجم قد يعرف الشخص أو مجتمعه.

## ما نكتبه

لا نكتب إلا ما يلزم للمساعدة. تُحفظ السجلات في أنظمتنا، لا على الهواتف الشخصية أبدًا. ويمكن لأي شخص أن يطلب
الاطلاع على ما نحتفظ به عنه.

## رواية ما حدث

يريد بعض الناس أن يحدّثونا عن العنف أو التهديد أو الإساءة التي عاشوها. يصغي الفريق دون إلحاح في طلب التفاصيل،
ولا يطلب الرواية نفسها مرتين، ويعرض استراحة في أي وقت.

## الإحالة إلى خدمات أخرى

قبل أن نحيل أحدًا، نشرح ما تقدّمه الخدمة الأخرى وما سنخبرها به. ولا نشارك إلا ما يوافق الشخص على مشاركته.

## الشكاوى والملاحظات

يمكن لأي شخص أن يشتكي أو يبدي ملاحظاته، دون ذكر اسمه إن شاء. نجيب خلال عشرة أيام عمل، بلغة الشخص نفسه.

## مراجعة هذه السياسة

يراجع المجلس الاستشاري للناجين والناجيات هذه السياسة كل عام، وكلما تغيّرت. ويتقاضى أعضاء المجلس مكافأة على هذا العمل.
"""

#: Revision 2 in every other language the site offers: locale -> (title, text), and its notes and questions, by
#: section position as in SECTION_NOTES. Drafts, like the catalogs: to be reviewed by native speakers.
REVISION_2_TRANSLATIONS = {
    "es": (REVISION_1_SPANISH_TITLE, REVISION_2_SPANISH),
    "fr": ("Premier contact et orientations", REVISION_2_FRENCH),
    "ar": ("اللقاء الأول والإحالات", REVISION_2_ARABIC),
}
SECTION_NOTES_TRANSLATED: dict[str, dict[int, dict[str, Any]]] = {
    "es": {
        1: {"summary": "Por qué existe esta política: cada primer contacto debe sentirse seguro y respetuoso."},
        4: {
            "summary": "Tú eliges qué se anota, y puedes cambiar de opinión.",
            "questions": [
                "¿Queda claro a qué puedes decir que no?",
                "¿Qué haría que pedir el consentimiento se sintiera menos formal?",
            ],
        },
        5: {"questions": ["¿Deberían poder elegir si su intérprete es mujer u hombre?"]},
        7: {
            "summary": "El personal escucha sin presionar para obtener detalles, y ofrece pausas.",
            "content_note": "Menciona en términos generales la violencia, las amenazas y el abuso.",
        },
    },
    "fr": {
        1: {"summary": "Pourquoi cette politique existe\u00a0: chaque premier contact doit être sûr et respectueux."},
        4: {
            "summary": "Vous choisissez ce qui est noté, et vous pouvez changer d'avis.",
            "questions": [
                "Voit-on clairement à quoi vous pouvez dire non\u00a0?",
                "Qu'est-ce qui rendrait la demande de consentement moins formelle\u00a0?",
            ],
        },
        5: {"questions": ["Devrait-on pouvoir choisir si l'interprète est une femme ou un homme\u00a0?"]},
        7: {
            "summary": "L'équipe écoute sans pousser à donner des détails, et propose des pauses.",
            "content_note": "Parle en termes généraux de violences, de menaces et d'abus.",
        },
    },
    "ar": {
        1: {"summary": "لماذا وُجدت هذه السياسة: ينبغي أن يكون كل لقاء أول آمنًا ومحترمًا."},
        4: {
            "summary": "أنت من يختار ما يُكتب، ويمكنك أن تغيّر رأيك.",
            "questions": ["هل من الواضح ما الذي يمكنك رفضه؟", "ما الذي يجعل طلب الموافقة أقل رسمية؟"],
        },
        5: {"questions": ["هل ينبغي أن يتمكن الناس من اختيار أن يكون المترجم امرأة أو رجلًا؟"]},
        7: {
            "summary": "يصغي الفريق دون إلحاح في طلب التفاصيل، ويعرض استراحات.",
            "content_note": "يذكر العنف والتهديد والإساءة بعبارات عامة.",
        },
    },
}

#: Revision 2's "What changed" in every other language, as REVISION_2_CHANGE_NOTES says it.
REVISION_2_CHANGE_NOTES_TRANSLATED = {
    "es": (
        "El consentimiento dice ahora quién leerá las notas; se puede pedir que borremos los registros sin dar "
        "una razón; se evitan intérpretes que puedan conocer a la persona; las quejas se responden en el idioma "
        "de la persona; las personas del consejo reciben una remuneración por las revisiones."
    ),
    "fr": (
        "Le consentement dit désormais qui lira les notes\u00a0; on peut nous demander d'effacer un dossier sans "
        "donner de raison\u00a0; on évite les interprètes qui pourraient connaître la personne\u00a0; les "
        "plaintes reçoivent une réponse dans la langue de la personne\u00a0; les membres du conseil sont "
        "rémunérés pour les révisions."
    ),
    "ar": (
        "صار نص الموافقة يذكر من سيقرأ الملاحظات؛ ويمكن طلب حذف السجلات دون ذكر سبب؛ ونتجنب المترجمين الذين قد "
        "يعرفون الشخص؛ ونجيب عن الشكاوى بلغة الشخص نفسه؛ ويتقاضى أعضاء المجلس مكافأة على المراجعات."
    ),
}


#: "How was this round for you?" about the main policy's first round (issue 22): each demo advisor's point for
#: the time, the material's safety and the pay (the check-in's first three questions), and what some wrote, by
#: question (the fourth, "What should change?", takes words only), with its language.
CHECKIN_ANSWERS: dict[str, tuple[list[int | None], dict[int, str], str]] = {
    "advisor1": ([4, 5, 3], {3: "More time between the draft and the meeting, please."}, "en"),
    "advisor2": ([3, 4, 4], {3: "Que el material difícil venga siempre con un aviso antes."}, "es"),
    "advisor3": ([5, 4, 5], {}, ""),
    "advisor4": ([2, 3, 4], {1: "بعض الأقسام كانت صعبة القراءة، لكن التنبيه قبلها ساعدني."}, "ar"),
    "advisor5": ([4, 4, 2], {3: "Payer plus vite après la réunion."}, "fr"),
    "advisor6": ([4, 5, 4], {}, ""),
}

#: The main policy was due for review this many days ago (issue 22): "due now" on its timeline. The council was
#: asked "Is this working?" that day, and the evaluation closed EVALUATION_CLOSED_DAYS_AGO, before the open round.
REVIEW_DATE_DAYS_AGO = 12
EVALUATION_CLOSED_DAYS_AGO = 2

#: Each demo advisor's answers to that evaluation: a point of the scale (None: "I can't say") for each promise
#: not dropped, soonest due first, then the policy as a whole; and what some of them wrote, by question, with
#: its language.
EVALUATION_ANSWERS: dict[str, tuple[list[int | None], dict[int, str], str]] = {
    "advisor1": ([5, 2, 4, None, 4], {1: "I complained a month ago and nobody has answered yet."}, "en"),
    "advisor2": ([4, 1, 3, None, 3], {0: "La intérprete me preguntó antes de empezar. Me sentí más segura."}, "es"),
    "advisor3": ([5, 2, None, None, 4], {}, ""),
    "advisor4": ([4, 2, 3, 3, 4], {4: "أشعر أن السياسة تُطبَّق أكثر من قبل، لكن الرد على الشكاوى ما زال بطيئًا."}, "ar"),
    "advisor5": ([3, 1, 4, None, 3], {2: "Au téléphone, on m’a enfin expliqué qui lit les notes."}, "fr"),
    "advisor6": ([5, 3, 4, None, 5], {}, ""),
}

#: What revision 2 promised beyond its text (issue 22), one in each status and one late: the promise, the role
#: that answers for it, its due day (days from today) and its notes (days ago, the status, the note).
COMMITMENTS = [
    (
        "Every interpreter we book is asked, before each booking, whether they may know the person.",
        "Interpreting coordinator",
        -20,
        [(30, "planned", "Agreed with the interpreting agency."), (12, "in_effect", "Asked at every booking since.")],
    ),
    (
        "Staff who answer the phone are trained to explain who reads the notes.",
        "Training lead",
        25,
        [(28, "planned", ""), (6, "in_progress", "Two of five teams trained.")],
    ),
    (
        "Complaints are answered within five working days.",
        "Complaints officer",
        -3,
        [(28, "planned", "We will see what the team can keep up with.")],
    ),
    (
        "A women-only drop-in hour at the east office.",
        "East office manager",
        60,
        [
            (27, "planned", ""),
            (4, "dropped", "The east office closes in the spring; the hour moves to the new office."),
        ],
    ),
    (
        "The women-only drop-in hour at the new office.",
        "Services manager",
        90,
        [(4, "planned", "Replaces the east office's hour, dropped above.")],
    ),
]

#: Translations of some of those promises and their notes (index in COMMITMENTS): per language, the promise and
#: its notes in order ("" for a note left empty).
COMMITMENTS_TRANSLATED = {
    0: {
        "es": (
            "A cada intérprete que contratamos se le pregunta, antes de cada cita, si puede conocer a la persona.",
            ["Acordado con la agencia de intérpretes.", "Se pregunta en cada cita desde entonces."],
        ),
        "fr": (
            "Avant chaque rendez-vous, on demande à l’interprète s’il peut connaître la personne.",
            ["Convenu avec l’agence d’interprètes.", "Demandé à chaque rendez-vous depuis."],
        ),
        "ar": (
            "يُسأل كل مترجم نحجزه، قبل كل موعد، إن كان قد يعرف الشخص.",
            ["اتُّفق على ذلك مع وكالة الترجمة.", "نسأل عند كل حجز منذ ذلك الحين."],
        ),
    },
    2: {
        "es": ("Las quejas se responden en un plazo de cinco días hábiles.", ["Veremos qué puede sostener el equipo."]),
        "fr": (
            "Les plaintes reçoivent une réponse sous cinq jours ouvrés.",
            ["Nous verrons ce que l’équipe peut tenir."],
        ),
        "ar": ("يُرد على الشكاوى خلال خمسة أيام عمل.", ["سنرى ما يستطيع الفريق الالتزام به."]),
    },
}

#: Points raised in the council meeting held during the open round, written down by the coordinator: (section
#: position, language, consent, text). They name nobody.
MEETING_POINTS = [
    (
        4,
        "en",
        QuoteConsent.PARAPHRASE,
        "Several people said an interpreter should be offered before the first conversation, not after.",
    ),
    (
        5,
        "es",
        QuoteConsent.PARAPHRASE,
        "Se pidió que cada persona pueda leer lo que se anotó sobre ella y corregirlo.",
    ),
    (
        7,
        "en",
        QuoteConsent.VERBATIM,
        "Referrals should say who will be told what, in plain words, before anyone is asked to agree.",
    ),
]

# --- Easy Read (issue 23) ---------------------------------------------------------------------------------------
# Short sentences, one idea each, one to a line; by language, then section position (0 is the opening paragraph).
# First drafts outside English, to be checked by a translator like the rest of the demo's translations.

#: Written for revision 2, the open round: "Purpose", "Consent and choice", "Language and interpreters".
EASY_READ_REVISION_2: dict[str, dict[int, list[str]]] = {
    "en": {
        1: [
            "This policy is about the first time we meet you.",
            "We want you to feel safe.",
            "We want you to feel calm.",
            "We want to treat you with respect.",
            "It says what our staff will do.",
            "It says what you can expect from us.",
        ],
        4: [
            "We ask you before we write anything down.",
            "We tell you who will read it.",
            "You can say no to any question.",
            "You can change your mind later.",
            "You can ask us to delete what we wrote.",
            "We will delete it, unless the law says we must keep it.",
            "You do not have to say why.",
        ],
        5: [
            "You can speak in your own language.",
            "We can book an interpreter for you.",
            "The interpreter is a professional.",
            "It is never someone from your family, or a friend.",
            "We ask if you want a woman or a man.",
            "We ask if the interpreter might know you or your community.",
            "If they might, we find someone else.",
        ],
    },
    "es": {
        1: [
            "Esta política trata de la primera vez que nos vemos.",
            "Queremos que te sientas a salvo.",
            "Queremos que te sientas en calma.",
            "Queremos tratarte con respeto.",
            "Explica lo que hace nuestro personal.",
            "Explica lo que puedes esperar de nosotros.",
        ],
        4: [
            "Te preguntamos antes de escribir nada.",
            "Te decimos quién lo va a leer.",
            "Puedes decir que no a cualquier pregunta.",
            "Puedes cambiar de opinión más tarde.",
            "Puedes pedirnos que borremos lo que escribimos.",
            "Lo borraremos, salvo que la ley nos obligue a guardarlo.",
            "No tienes que decir por qué.",
        ],
        5: [
            "Puedes hablar en tu propio idioma.",
            "Podemos buscar un intérprete para ti.",
            "El intérprete es un profesional.",
            "Nunca es alguien de tu familia ni un amigo.",
            "Te preguntamos si prefieres una mujer o un hombre.",
            "Te preguntamos si el intérprete podría conocerte a ti o a tu comunidad.",
            "Si es así, buscamos a otra persona.",
        ],
    },
    "fr": {
        1: [
            "Cette politique parle de la première fois que nous vous rencontrons.",
            "Nous voulons que vous vous sentiez en sécurité.",
            "Nous voulons que vous vous sentiez au calme.",
            "Nous voulons vous traiter avec respect.",
            "Elle dit ce que fait notre équipe.",
            "Elle dit ce que vous pouvez attendre de nous.",
        ],
        4: [
            "Nous vous demandons avant d’écrire quoi que ce soit.",
            "Nous vous disons qui va le lire.",
            "Vous pouvez dire non à n’importe quelle question.",
            "Vous pouvez changer d’avis plus tard.",
            "Vous pouvez nous demander d’effacer ce que nous avons écrit.",
            "Nous l’effaçons, sauf si la loi nous oblige à le garder.",
            "Vous n’avez pas à dire pourquoi.",
        ],
        5: [
            "Vous pouvez parler dans votre langue.",
            "Nous pouvons réserver un interprète pour vous.",
            "L’interprète est un professionnel.",
            "Ce n’est jamais quelqu’un de votre famille, ni un ami.",
            "Nous vous demandons si vous préférez une femme ou un homme.",
            "Nous vous demandons si l’interprète pourrait vous connaître, vous ou votre communauté.",
            "Si c’est le cas, nous choisissons quelqu’un d’autre.",
        ],
    },
    "ar": {
        1: [
            "هذه السياسة تتحدث عن أول مرة نلتقي فيها بك.",
            "نريد أن تشعر بالأمان.",
            "نريد أن تشعر بالهدوء.",
            "نريد أن نعاملك باحترام.",
            "هي تقول ما يفعله فريقنا.",
            "هي تقول ما يمكنك أن تتوقعه منا.",
        ],
        4: [
            "نسألك قبل أن نكتب أي شيء.",
            "نخبرك من سيقرأ ما نكتبه.",
            "يمكنك أن تقول لا لأي سؤال.",
            "يمكنك أن تغيّر رأيك لاحقًا.",
            "يمكنك أن تطلب منا حذف ما كتبناه.",
            "سنحذفه، إلا إذا كان القانون يُلزمنا بالاحتفاظ به.",
            "لا يجب عليك أن تذكر السبب.",
        ],
        5: [
            "يمكنك أن تتحدث بلغتك.",
            "يمكننا أن نحجز لك مترجمًا.",
            "المترجم شخص محترف.",
            "لا يكون أبدًا من عائلتك أو من أصدقائك.",
            "نسألك إن كنت تفضّل امرأة أو رجلًا.",
            "نسألك إن كان المترجم قد يعرفك أو يعرف مجتمعك.",
            "إذا كان كذلك، نختار شخصًا آخر.",
        ],
    },
}

#: Written for revision 1 and not yet again: "Complaints and feedback" changed in revision 2, so its readers are
#: told this one is older than the current text.
EASY_READ_REVISION_1: dict[str, dict[int, list[str]]] = {
    "en": {
        9: [
            "You can complain, or tell us what you think.",
            "You do not have to give your name.",
            "We answer within ten working days.",
        ],
    },
    "ar": {
        9: [
            "يمكنك أن تشتكي، أو أن تخبرنا برأيك.",
            "لا يجب عليك أن تذكر اسمك.",
            "نرد خلال عشرة أيام عمل.",
        ],
    },
}

#: Cedar opens sections in Easy Read first, where they have it.
EASY_READ_FIRST = ("advisor3",)

#: A comment advisor1 started in the open round and kept as a draft: (section position, words).
DRAFT = (
    3,
    "I want to say something about the interpreters here, but I need more time. "
    "Who chooses them, and can we ask for a different one?",
)
